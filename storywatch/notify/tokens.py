"""Signed unsubscribe tokens, so a link in a forwarded mail cannot unsubscribe someone else.

itsdangerous signs (address, topic, when that subscription began) with HMAC and a
timestamp; the key comes from $STORYWATCH_SECRET, or is generated once and kept in the
database so every process (CLI, daemon, several hosts on one PostgreSQL) signs and checks
with the same key. A token expires after TOKEN_MAX_AGE, and it only ends the subscription
it was made for: once the person has unsubscribed and subscribed again, the links in the
old digests (forwarded, archived, leaked) no longer work.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from storywatch.normalise.dates import utc_now
from storywatch.storage.notify import NotifySecret, Subscriber, Subscription
from storywatch.storage.repository import dialect_insert

SECRET_ENV = "STORYWATCH_SECRET"
_SECRET_NAME = "unsubscribe"
# A different salt per purpose: a token made for unsubscribing is useless for anything else.
# v2: timed and bound to one subscription (v1 tokens never expired).
_SALT = "storywatch.unsubscribe.v2"
# Every digest carries a fresh link; a quarter of a year covers a mail read late or a
# weekly subscriber's archive, and bounds what a leaked old mail can do.
TOKEN_MAX_AGE = timedelta(days=90)


class BadToken(ValueError):
    """The token was not made by this storywatch (wrong key, truncated, edited)."""


@dataclass(frozen=True)
class Unsubscribe:
    email: str
    topic: str
    subscribed: int  # the subscription's start, as `stamp` gives it


def stamp(moment: datetime) -> int:
    """A subscription's start as whole milliseconds (naive values from SQLite are UTC)."""
    return int((moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp() * 1000)


class _ClockSigner(TimestampSigner):
    """itsdangerous' timestamp signer with the clock given, so `now` can be passed in."""

    def __init__(self, *args: Any, clock: datetime | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.clock = clock

    def get_timestamp(self) -> int:
        return int((self.clock or utc_now()).timestamp())


def _serializer(secret: str, now: datetime | None) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=_SALT, signer=_ClockSigner,
                                  signer_kwargs={"clock": now})


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


def make_token(secret: str, email: str, topic: str, subscribed_at: datetime,
               now: datetime | None = None) -> str:
    return _serializer(secret, now).dumps({"e": email, "t": topic, "s": stamp(subscribed_at)})


def read_token(secret: str, token: str, now: datetime | None = None) -> Unsubscribe:
    """The request a token carries; BadToken when it is not ours or has expired."""
    try:
        data = _serializer(secret, now).loads(token.strip(),
                                              max_age=int(TOKEN_MAX_AGE.total_seconds()))
    except SignatureExpired:
        raise BadToken(f"this unsubscribe link has expired (links work for "
                       f"{TOKEN_MAX_AGE.days} days); use the one in a recent digest") from None
    except BadSignature:
        raise BadToken("this unsubscribe token is not valid (mistyped, cut, or not ours)") from None
    if not isinstance(data, dict) or not {"e", "t", "s"} <= data.keys() \
            or not isinstance(data["s"], int):
        raise BadToken("this unsubscribe token is not valid (unexpected content)")
    return Unsubscribe(email=str(data["e"]), topic=str(data["t"]), subscribed=data["s"])


def subscription_of(session: Session, request: Unsubscribe) -> int | None:
    """The id of the subscription the token was made for; None when it has ended already.

    BadToken when the person has subscribed to the topic again since: the new
    subscription gets new links, and an old mail must not end it.
    """
    row = session.execute(
        select(Subscription.id, Subscription.created_at).join(Subscriber)
        .where(Subscriber.email == request.email, Subscription.topic == request.topic)
    ).first()
    if row is None:
        return None
    if stamp(row.created_at) != request.subscribed:
        raise BadToken("this unsubscribe link belongs to an earlier subscription to this "
                       "topic; use the link in a recent digest")
    return int(row.id)


def redeem(session: Session, request: Unsubscribe) -> bool:
    """End the subscription the token names: True if it ended now, False if already gone."""
    subscription_id = subscription_of(session, request)
    if subscription_id is None:
        return False
    session.execute(delete(Subscription).where(Subscription.id == subscription_id))
    return True
