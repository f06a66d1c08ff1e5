"""`storywatch web`: the web app over the store, in the foreground."""

from __future__ import annotations

import threading
from typing import Annotated

import typer

from storywatch.cli.common import console, fail, options


def web(
    ctx: typer.Context,
    listen: Annotated[str | None, typer.Option(
        help="HOST:PORT to listen on (default: [web] listen, else 127.0.0.1:8080).")] = None,
) -> None:
    """Serve the web app: topics, follow-ups, items and corrections, sources,
    subscriptions, an Atom feed per topic and a JSON API (/api/openapi.json).

    Writes need the password in $STORYWATCH_WEB_PASSWORD; reading too unless the config
    says [web] read = "public". Put an HTTPS reverse proxy in front to serve it beyond
    this machine (docs/web.md).

    Example: storywatch --config storywatch.toml web --listen 127.0.0.1:8080
    """
    from pydantic import ValidationError

    from storywatch.config import WebConfig
    from storywatch.web.auth import missing_password, password_from_environment
    from storywatch.web.crawls import ChildCrawls

    opts = options(ctx)
    config = opts.config()
    address = listen or config.web.listen or "127.0.0.1:8080"
    try:
        WebConfig(listen=address)
    except ValidationError:
        fail(f"--listen {address!r} is not HOST:PORT (e.g. 127.0.0.1:8080)")
    problem = missing_password(config.web.read)
    if problem:
        fail(problem)
    password = password_from_environment()
    storage = opts.storage(config)
    from storywatch.web.app import create_app
    from storywatch.web.serve import start_web_server

    crawls = ChildCrawls(config, storage, log_level=opts.log_level, log_format=opts.log_format)
    app = create_app(config, storage, password=password, crawl_now=crawls.start)
    try:
        server = start_web_server(app, address)
    except OSError as exc:
        storage.dispose()
        fail(str(exc))
    console.print(f"storywatch web on http://{address}/ (Ctrl-C to stop)", markup=False,
                  highlight=False)
    stop = threading.Event()
    try:
        while server.thread.is_alive():
            stop.wait(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        crawls.stop()
        storage.dispose()


def register(app: typer.Typer) -> None:
    app.command()(web)
