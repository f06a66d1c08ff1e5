"""What every route needs: the app's context, page rendering, and the access checks.

Kept apart from the app factory so that route modules import this, and the factory
imports the routes, without a cycle.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import HTTPException
from jinja2 import Environment
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from storywatch.config import Config
from storywatch.storage import Storage
from storywatch.web.auth import (
    CSRF_FIELD,
    CSRF_HEADER,
    SESSION_COOKIE,
    SESSION_MAX_AGE,
    Auth,
    Visitor,
)
from storywatch.web.choices import FilterChoices

HERE = Path(__file__).parent
# Every page may load only our own stylesheet and post only to us; inline SVG needs no
# source; nothing may frame the app (clickjacking of the correction buttons).
CONTENT_SECURITY_POLICY = ("default-src 'none'; style-src 'self'; img-src 'self' data:; "
                           "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")

CrawlNow = Callable[[str], str]


@dataclass
class WebContext:
    """What every route needs, kept on app.state: no module-level state."""

    config: Config
    storage: Storage
    auth: Auth
    templates: Environment
    crawl_now: CrawlNow | None
    choices: FilterChoices
    navigation: bool = True  # off when only the unsubscribe page is served


def context(request: Request) -> WebContext:
    web: WebContext = request.app.state.web
    return web


def visitor_of(request: Request) -> Visitor:
    visitor: Visitor = request.state.visitor
    return visitor


def render(request: Request, template: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    web = context(request)
    visitor = visitor_of(request)
    page = web.templates.get_template(template).render(
        request_path=request.url.path, navigation=web.navigation,
        topics=[t.name for t in web.config.topics],
        logged_in=visitor.logged_in, may_write_at_all=web.auth.password is not None,
        csrf_field=CSRF_FIELD, csrf_token=web.auth.csrf_token(visitor), **values)
    return HTMLResponse(page, status_code=status_code)


def require_read(request: Request) -> None:
    """Pages and API behind the login when [web] read = "login"."""
    if context(request).auth.may_read(request):
        return
    if request.url.path.startswith("/api/") or request.url.path.endswith(".atom"):
        raise HTTPException(401, "log in first: send the password as a Bearer token or with "
                            "HTTP Basic", headers={"WWW-Authenticate": 'Basic realm="storywatch"'})
    raise Redirect("/login?next=" + quote(request.url.path + (
        "?" + request.url.query if request.url.query else ""), safe=""))


def require_write(request: Request, token: str | None) -> Visitor:
    """A write needs the login (or the password as a Bearer token) and, from a browser,
    the session's CSRF token."""
    web = context(request)
    by_token = web.auth.credentials(request)
    if by_token is not None and by_token.by_token:
        return by_token
    visitor = visitor_of(request)
    if web.auth.password is None:
        raise HTTPException(403, "writing is off: start the web app with "
                            "$STORYWATCH_WEB_PASSWORD set")
    if not visitor.logged_in:
        raise HTTPException(401, "log in to change anything")
    if not web.auth.csrf_ok(visitor, token or request.headers.get(CSRF_HEADER)):
        raise HTTPException(403, "the form's CSRF token is missing or wrong: reload the page "
                            "and try again")
    return visitor


class Redirect(Exception):
    def __init__(self, location: str) -> None:
        self.location = location


def safe_next(target: str | None) -> str:
    """Only a path on this site is followed after logging in (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def set_session_cookie(request: Request, response: Response, visitor: Visitor) -> None:
    request.state.cookie_set = True
    response.set_cookie(SESSION_COOKIE, context(request).auth.session_cookie(visitor),
                        max_age=SESSION_MAX_AGE, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https", path="/")
