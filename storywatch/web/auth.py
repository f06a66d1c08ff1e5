"""Who may read and who may write: one password from the environment, sessions, CSRF.

The password is read from $STORYWATCH_WEB_PASSWORD only, never from the config file
(configs get committed and mailed around). A browser logs in once and gets a signed,
HttpOnly, SameSite=Strict session cookie; every form carries a CSRF token derived from
that session, so another site cannot make a logged-in browser write. Programs (feed
readers, scripts) may send the password as HTTP Basic or Bearer credentials. Basic is
honoured for reads only: browsers replay Basic credentials on their own, which would
make it a CSRF hole for writes; a Bearer token is never sent by a browser on its own.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request

PASSWORD_ENV = "STORYWATCH_WEB_PASSWORD"
SESSION_COOKIE = "storywatch_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
# A working day and a bit: long enough not to log an analyst out mid-task.
SESSION_MAX_AGE = 14 * 3600


def password_from_environment() -> str | None:
    value = os.environ.get(PASSWORD_ENV)
    return value if value else None


def missing_password(read: str) -> str | None:
    """Why the web app cannot start as configured, or None: with reading behind the login
    and no password, nobody could see anything."""
    if read == "login" and password_from_environment() is None:
        return (f"set ${PASSWORD_ENV} (the password for logging in to the web app), or "
                "make reading public with [web] read = \"public\" in the config")
    return None


@dataclass(frozen=True)
class Visitor:
    session_id: str
    logged_in: bool
    # A program with the password in its request (Bearer): may write without CSRF.
    by_token: bool = False


class Auth:
    """Checks credentials and signs sessions. Its signing key lives only in this process:
    a restart logs everybody out, and nothing secret is ever stored."""

    def __init__(self, password: str | None, *, public_read: bool) -> None:
        self.password = password
        self.public_read = public_read
        self._key = secrets.token_bytes(32)
        self._sessions = URLSafeTimedSerializer(self._key, salt="storywatch-web-session")

    def check_password(self, given: str) -> bool:
        if self.password is None:
            return False
        return hmac.compare_digest(given.encode("utf-8"), self.password.encode("utf-8"))

    def visitor(self, request: Request) -> Visitor | None:
        """The session in the request's cookie, or None when there is none (or a forged one)."""
        raw = request.cookies.get(SESSION_COOKIE)
        if raw:
            try:
                data = self._sessions.loads(raw, max_age=SESSION_MAX_AGE)
            except BadSignature:
                data = None
            if isinstance(data, dict) and isinstance(data.get("sid"), str):
                return Visitor(data["sid"], bool(data.get("in")))
        return None

    def credentials(self, request: Request) -> Visitor | None:
        """A Visitor for a request carrying the password itself (Bearer or Basic)."""
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and self.check_password(value.strip()):
            return Visitor("token", logged_in=False, by_token=True)
        if scheme.lower() == "basic":
            try:
                _, _, password = base64.b64decode(value.strip()).decode("utf-8").partition(":")
            except (ValueError, UnicodeDecodeError):
                return None
            if self.check_password(password):
                return Visitor("basic", logged_in=False)
        return None

    def may_read(self, request: Request) -> bool:
        if self.public_read:
            return True
        visitor = self.visitor(request)
        if visitor is not None and visitor.logged_in:
            return True
        return self.credentials(request) is not None

    def session_cookie(self, visitor: Visitor) -> str:
        return self._sessions.dumps({"sid": visitor.session_id, "in": visitor.logged_in})

    def new_visitor(self, *, logged_in: bool) -> Visitor:
        return Visitor(secrets.token_urlsafe(18), logged_in)

    def csrf_token(self, visitor: Visitor) -> str:
        return hmac.new(self._key, f"csrf:{visitor.session_id}".encode(),
                        hashlib.sha256).hexdigest()

    def csrf_ok(self, visitor: Visitor, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(self.csrf_token(visitor), token or "")
