"""The JSON API: items, one item, its explanation, labels, sources and runs.

Described by OpenAPI at /api/openapi.json (FastAPI writes it from these routes and
models). Reads follow [web] read; the one write, a label, needs the password as a
Bearer token (or a logged-in session plus its CSRF token in X-CSRF-Token).
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import select
from starlette.requests import Request

from storywatch.normalise.dates import iso, utc_now
from storywatch.storage.browse import list_entries
from storywatch.storage.daemon import CrawlRun
from storywatch.storage.labels import labels_of_items, save_label
from storywatch.web.context import context, require_read, require_write
from storywatch.web.pages import item_filter, judgements_of, load_item, parse_cursor, topic_name
from storywatch.web.sources import source_views

router = APIRouter(prefix="/api", tags=["api"])
read = [Depends(require_read)]


class ListedItem(BaseModel):
    id: int
    title: str | None
    url: str
    source: str
    language: str | None
    published_at: str | None
    status: str = Field(description="the person's label when there is one, else the machine's")
    judged: str
    labelled: bool
    confidence: float | None
    cluster_id: str | None
    also_reported_by: list[dict[str, Any]]


class ItemList(BaseModel):
    items: list[ListedItem]
    next: str | None = Field(description="pass as `after` for the next page; null at the end")


class LabelIn(BaseModel):
    topic: str
    status: Literal["followup", "duplicate", "offtopic"]
    note: str | None = None


class LabelOut(BaseModel):
    item_id: int
    topic: str
    status: str


@router.get("/items", dependencies=read, response_model=ItemList)
def items(request: Request, topic: str, status: str = "followup", source: str | None = None,
          language: str | None = None, since: str | None = None, until: str | None = None,
          q: str | None = None, after: str | None = None,
          limit: int = Query(50, ge=1, le=500)) -> ItemList:
    """One topic's items, newest first, clusters as one entry; same filters as the page."""
    filters = item_filter(request, topic, status=status, source=source, language=language,
                          since=since, until=until, q=q)
    with context(request).storage.session() as session:
        page = list_entries(session, filters, after=parse_cursor(after), limit=limit)
    return ItemList(items=[ListedItem(
        id=e.id, title=e.title, url=e.url, source=e.source, language=e.language,
        published_at=iso(e.published_at), status=e.status, judged=e.judged,
        labelled=e.labelled, confidence=e.confidence, cluster_id=e.cluster_id,
        also_reported_by=e.also) for e in page.entries], next=page.next_cursor)


def _item_json(item: Any) -> dict[str, Any]:
    return {"id": item.id, "canonical_url": item.canonical_url, "url": item.url,
            "title": item.title, "authors": item.authors, "published_at": iso(item.published_at),
            "fetched_at": iso(item.fetched_at), "language": item.language,
            "source": item.source, "word_count": item.word_count, "text": item.text}


@router.get("/items/{item_id}", dependencies=read)
def item(request: Request, item_id: int) -> dict[str, Any]:
    """The stored item with its text."""
    with context(request).storage.session() as session:
        return _item_json(load_item(session, item_id))


@router.get("/items/{item_id}/explain", dependencies=read)
def explain(request: Request, item_id: int) -> dict[str, Any]:
    """The judgement per topic with its reasons and the person's label: `storywatch explain`."""
    with context(request).storage.session() as session:
        found = load_item(session, item_id)
        labels = {t: s for (_, t), s in labels_of_items(session, [item_id]).items()}
        judgements = []
        for judgement in judgements_of(session, item_id):
            judgements.append({
                "topic": judgement.topic, "judged": judgement.status,
                "label": labels.pop(judgement.topic, None),
                "duplicate_of": judgement.duplicate_of, "cluster_id": judgement.cluster_id,
                "confidence": judgement.confidence, "relevance": judgement.relevance,
                "novelty": judgement.novelty, "decided_at": iso(judgement.decided_at),
                "reasons": judgement.reasons})
        judgements += [{"topic": t, "judged": None, "label": s} for t, s in labels.items()]
        return {"item": {k: v for k, v in _item_json(found).items() if k != "text"},
                "judgements": judgements}


@router.post("/items/{item_id}/label", response_model=LabelOut)
def label(request: Request, item_id: int, body: LabelIn) -> LabelOut:
    """Record a person's label, as `storywatch label` does."""
    require_write(request, None)
    name = topic_name(request, body.topic)
    with context(request).storage.session() as session:
        load_item(session, item_id)
        save_label(session, item_id=item_id, topic=name, status=body.status,
                   labelled_at=utc_now(), note=body.note)
    return LabelOut(item_id=item_id, topic=name, status=body.status)


@router.get("/sources", dependencies=read)
def sources(request: Request) -> list[dict[str, Any]]:
    """Each configured source: schedule, last and next run, failures in a row, last run's
    requests and bytes."""
    views, _ = source_views(request)
    return [view.as_json() for view in views]


@router.get("/runs", dependencies=read)
def runs(request: Request, source: str | None = None,
         limit: int = Query(50, ge=1, le=1000)) -> list[dict[str, Any]]:
    """Crawl runs, newest first."""
    query = select(CrawlRun).order_by(CrawlRun.started_at.desc(), CrawlRun.id.desc())
    if source is not None:
        query = query.where(CrawlRun.source == source)
    with context(request).storage.session() as session:
        return [{"id": r.id, "batch": r.batch, "source": r.source,
                 "started_at": iso(r.started_at), "finished_at": iso(r.finished_at),
                 "outcome": r.outcome, "seen": r.seen, "new": r.new, "failed": r.failed,
                 "requests": r.requests, "bytes": r.bytes, "error": r.error}
                for r in session.execute(query.limit(limit)).scalars()]

