"""The web app: one FastAPI application over the store, built by `create_app`.

FastAPI rather than bare Starlette for the JSON API's OpenAPI description, written from
the routes themselves; the pages are plain server-rendered Jinja2 forms and links that
work without JavaScript. Its interactive docs pages are off: they load scripts from a CDN.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from storywatch.config import Config
from storywatch.storage import Storage
from storywatch.web import api, feeds, pages, present, sources, subscriptions, unsubscribe
from storywatch.web.auth import Auth
from storywatch.web.choices import FilterChoices
from storywatch.web.context import (
    CONTENT_SECURITY_POLICY,
    HERE,
    CrawlNow,
    Redirect,
    WebContext,
    context,
    render,
    set_session_cookie,
)


def _templates() -> Environment:
    env = Environment(loader=FileSystemLoader(HERE / "templates"),
                      autoescape=select_autoescape(default=True, default_for_string=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters.update(present.FILTERS)
    env.globals.update(present.GLOBALS)
    return env


def create_app(config: Config, storage: Storage, *, password: str | None,
               crawl_now: CrawlNow | None = None, unsubscribe_only: bool = False) -> FastAPI:
    """The app over this store. `password`: from $STORYWATCH_WEB_PASSWORD (None: nobody
    can log in or write); `crawl_now`: what the "crawl now" button calls;
    `unsubscribe_only`: nothing but the unsubscribe page (`digest serve-unsubscribe`)."""
    app = FastAPI(title="storywatch", version="1", docs_url=None, redoc_url=None,
                  openapi_url="/api/openapi.json",
                  description="Read the stored items, their judgements and the sources' "
                              "runs; record human labels.")
    app.state.web = WebContext(config=config, storage=storage,
                               auth=Auth(password, public_read=config.web.read == "public"),
                               templates=_templates(), crawl_now=crawl_now,
                               choices=FilterChoices(storage),
                               navigation=not unsubscribe_only)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    routers = [unsubscribe] if unsubscribe_only else [pages, feeds, sources, subscriptions,
                                                      unsubscribe, api]
    for module in routers:
        app.include_router(module.router)

    @app.middleware("http")
    async def sessions_and_headers(request: Request,
                                   call_next: Callable[[Request], Awaitable[Response]]
                                   ) -> Response:
        auth = context(request).auth
        visitor = auth.visitor(request)
        fresh = visitor is None
        request.state.visitor = visitor or auth.new_visitor(logged_in=False)
        response = await call_next(request)
        if fresh and not getattr(request.state, "cookie_set", False):
            set_session_cookie(request, response, request.state.visitor)
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.exception_handler(Redirect)
    async def redirect(_request: Request, exc: Redirect) -> Response:
        return RedirectResponse(exc.location, status_code=303)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        headers = getattr(exc, "headers", None)
        if request.url.path.startswith("/api/") or request.url.path.endswith(".atom"):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code,
                                headers=headers)
        return render(request, "error.html", status_code=exc.status_code,
                      title=f"{exc.status_code}", message=str(exc.detail))

    return app
