"""Signed unsubscribe tokens, so a link in a forwarded mail cannot unsubscribe someone else.

itsdangerous signs the (address, topic) pair with HMAC; the key comes from
$STORYWATCH_SECRET, or is generated once and kept in the database so every process (CLI,
daemon, several hosts on one PostgreSQL) signs and checks with the same key.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session

from storywatch.normalise.dates import utc_now
from storywatch.storage.notify import NotifySecret
from storywatch.storage.repository import dialect_insert

SECRET_ENV = "STORYWATCH_SECRET"
_SECRET_NAME = "unsubscribe"
# A different salt per purpose: a token made for unsubscribing is useless for anything else.
_SALT = "storywatch.unsubscribe.v1"


class BadToken(ValueError):
    """The token was not made by this storywatch (wrong key, truncated, edited)."""


@dataclass(frozen=True)
class Unsubscribe:
    email: str
    topic: str


def signing_secret(session: Session) -> str:
    """$STORYWATCH_SECRET, else the stored key, created on first use (race-safe upsert)."""
    from_env = os.environ.get(SECRET_ENV)
    if from_env:
        return from_env
    # 32 random bytes: the HMAC key length that SHA-256 (itsdangerous' default) is built for.
    session.execute(
        dialect_insert(session, NotifySecret)
        .values(name=_SECRET_NAME, value=secrets.token_urlsafe(32), created_at=utc_now())
        .on_conflict_do_nothing(index_elements=["name"])
    )
    return session.execute(
        select(NotifySecret.value).where(NotifySecret.name == _SECRET_NAME)
    ).scalar_one()


def make_token(secret: str, email: str, topic: str) -> str:
    return URLSafeSerializer(secret, salt=_SALT).dumps({"e": email, "t": topic})


def read_token(secret: str, token: str) -> Unsubscribe:
    try:
        data = URLSafeSerializer(secret, salt=_SALT).loads(token.strip())
    except BadSignature:
        raise BadToken("this unsubscribe token is not valid (mistyped, cut, or not ours)") from None
    if not isinstance(data, dict) or not {"e", "t"} <= data.keys():
        raise BadToken("this unsubscribe token is not valid (unexpected content)")
    return Unsubscribe(email=str(data["e"]), topic=str(data["t"]))
