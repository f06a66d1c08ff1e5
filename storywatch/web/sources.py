"""The sources page: each source's last and next run, failures and backoff, the last run's
requests and bytes, and a "crawl now" button."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from storywatch.config import ConfigError
from storywatch.scheduler.health import SourceHealth, collect_health
from storywatch.scheduler.runs import latest_runs
from storywatch.storage.daemon import CrawlRun
from storywatch.web.context import context, render, require_read, require_write

router = APIRouter(include_in_schema=False)


@dataclass
class SourceView:
    health: SourceHealth
    kind: str
    url: str
    last: CrawlRun | None
    backing_off: bool

    def as_json(self) -> dict[str, Any]:
        last = self.last
        return {**self.health.as_json(), "kind": self.kind, "url": self.url,
                "backing_off": self.backing_off,
                "last_run_items_new": last.new if last else None,
                "last_run_items_seen": last.seen if last else None,
                "last_run_requests": last.requests if last else None,
                "last_run_bytes": last.bytes if last else None}


def source_views(request: Request) -> tuple[list[SourceView], Any]:
    web = context(request)
    health = collect_health(web.config, web.storage)
    with web.storage.session() as session:
        runs = latest_runs(session)
    views = []
    for item in health.sources:
        source = web.config.source(item.source)
        views.append(SourceView(health=item, kind=source.kind, url=source.url,
                                last=runs.get(item.source),
                                backing_off=item.failures_in_row > 0))
    return views, health


@router.get("/sources", dependencies=[Depends(require_read)])
def sources_page(request: Request) -> Response:
    views, health = source_views(request)
    return render(request, "sources.html", title="Sources", sources=views, health=health,
                  can_crawl=context(request).crawl_now is not None,
                  message=request.query_params.get("message"), now=datetime.now(health.now.tzinfo))


@router.post("/sources/{source}/crawl")
def crawl_now(request: Request, source: str,
              csrf_token: Annotated[str | None, Form()] = None) -> Response:
    require_write(request, csrf_token)
    web = context(request)
    try:
        name = web.config.source(source).name
    except ConfigError:
        raise HTTPException(404, f"no source named {source!r}") from None
    if web.crawl_now is None:
        raise HTTPException(503, "this web app cannot start crawls")
    message = web.crawl_now(name)
    from urllib.parse import quote

    return RedirectResponse(f"/sources?message={quote(message)}", status_code=303)
