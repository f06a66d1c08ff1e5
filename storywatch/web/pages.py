"""The reading pages: topics with their attention chart, the follow-ups list, an item with
its judgement and the correction buttons, and logging in."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, HTTPException
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from storywatch.config import ConfigError
from storywatch.normalise.dates import utc_now
from storywatch.storage.browse import (
    STATUS_CHOICES,
    Cursor,
    ItemFilter,
    followups_per_day,
    list_entries,
    status_counts,
)
from storywatch.storage.labels import STATUSES, labels_of_items, save_label
from storywatch.storage.models import Item, Judgement
from storywatch.web.charts import attention_chart
from storywatch.web.context import (
    context,
    render,
    require_read,
    require_write,
    safe_next,
    set_session_cookie,
)

router = APIRouter(include_in_schema=False)
CHART_DAYS = 60


def topic_name(request: Request, name: str) -> str:
    """A configured topic, or 404: names in paths are never used as anything but a key."""
    try:
        return context(request).config.topic(name).name
    except ConfigError:
        raise HTTPException(404, f"no topic named {name!r}") from None


def parse_day(value: str | None, field: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise HTTPException(400, f"{field} {value!r} is not a date (YYYY-MM-DD)") from None


def item_filter(request: Request, topic: str, *, status: str, source: str | None,
                language: str | None, since: str | None, until: str | None,
                q: str | None) -> ItemFilter:
    if status not in STATUS_CHOICES:
        raise HTTPException(400, f"status {status!r}: use one of {', '.join(STATUS_CHOICES)}")
    return ItemFilter(topic=topic_name(request, topic), status=status, source=source or None,
                      language=language or None, since=parse_day(since, "since"),
                      until=parse_day(until, "until"), search=(q or "").strip() or None)


def parse_cursor(after: str | None) -> Cursor | None:
    if not after:
        return None
    try:
        return Cursor.decode(after)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None


@router.get("/", dependencies=[Depends(require_read)])
def topics_page(request: Request) -> Response:
    web = context(request)
    today = datetime.now(UTC).date()
    topics = []
    with web.storage.session() as session:
        for topic in web.config.topics:
            per_day = followups_per_day(session, topic.name, days=CHART_DAYS)
            link = f"/topics/{quote(topic.name, safe='')}/followups?since={{day}}&until={{day}}"
            topics.append({
                "name": topic.name, "description": topic.description,
                "counts": status_counts(session, topic.name),
                "chart": attention_chart(
                    per_day, last_day=today, days=CHART_DAYS, day_link=link,
                    label=f"Follow-ups of {topic.name} per day and source, last "
                          f"{CHART_DAYS} days"),
            })
    return render(request, "topics.html", title="Topics", topic_pages=topics)


@router.get("/topics/{topic}", dependencies=[Depends(require_read)])
def topic_redirect(request: Request, topic: str) -> Response:
    return RedirectResponse(f"/topics/{quote(topic_name(request, topic), safe='')}/followups",
                            status_code=303)


@router.get("/topics/{topic}/followups", dependencies=[Depends(require_read)])
def followups_page(
    request: Request, topic: str, status: str = "followup", source: str | None = None,
    language: str | None = None, since: str | None = None, until: str | None = None,
    q: str | None = None, after: str | None = None,
) -> Response:
    web = context(request)
    filters = item_filter(request, topic, status=status, source=source, language=language,
                          since=since, until=until, q=q)
    with web.storage.session() as session:
        page = list_entries(session, filters, after=parse_cursor(after),
                            limit=web.config.web.page_size)
    sources, languages = web.choices.of(filters.topic)
    values = {"status": status, "source": source, "language": language, "since": since,
              "until": until, "q": q}
    return render(request, "followups.html", title=f"{filters.topic}: items",
                  topic=filters.topic, page=page, filters=values, sources=sources,
                  languages=languages, statuses=STATUS_CHOICES, first_page=after is None)


def load_item(session: Any, item_id: int) -> Item:
    item = session.get(Item, item_id)
    if item is None:
        raise HTTPException(404, f"no item {item_id}")
    return item


def judgements_of(session: Any, item_id: int) -> list[Judgement]:
    return list(session.execute(select(Judgement).where(Judgement.item_id == item_id)
                                .order_by(Judgement.topic)).scalars())


@router.get("/items/{item_id}", dependencies=[Depends(require_read)])
def item_page(request: Request, item_id: int) -> Response:
    web = context(request)
    with web.storage.session() as session:
        item = load_item(session, item_id)
        judgements = {j.topic: j for j in judgements_of(session, item_id)}
        labels = {t: s for (_, t), s in labels_of_items(session, [item_id]).items()}
        topics = [t.name for t in web.config.topics]
        topics += sorted((set(judgements) | set(labels)) - set(topics))
        rows = [{"topic": t, "judgement": judgements.get(t), "label": labels.get(t)}
                for t in topics if t in judgements or t in labels or len(topics) == 1]
        return render(request, "item.html", title=item.title or "(no title)", item=item,
                      rows=rows, label_statuses=STATUSES,
                      saved=request.query_params.get("saved"))


@router.post("/items/{item_id}/label")
def label_item(
    request: Request, item_id: int, topic: Annotated[str, Form()],
    status: Annotated[str, Form()], csrf_token: Annotated[str | None, Form()] = None,
    note: Annotated[str | None, Form()] = None,
) -> Response:
    """Record a person's label through the same function as `storywatch label`."""
    require_write(request, csrf_token)
    web = context(request)
    name = topic_name(request, topic)
    if status not in STATUSES:
        raise HTTPException(400, f"label {status!r}: use one of {', '.join(STATUSES)}")
    with web.storage.session() as session:
        load_item(session, item_id)
        save_label(session, item_id=item_id, topic=name, status=status,
                   labelled_at=utc_now(), note=(note or "").strip() or None)
    return RedirectResponse(f"/items/{item_id}?saved={quote(name, safe='')}", status_code=303)


@router.get("/login")
def login_page(request: Request, next: str | None = None) -> Response:
    return render(request, "login.html", title="Log in", next=safe_next(next), error=None,
                  password_set=context(request).auth.password is not None)


@router.post("/login")
def login(request: Request, password: Annotated[str, Form()],
          csrf_token: Annotated[str | None, Form()] = None,
          next: Annotated[str | None, Form()] = None) -> Response:
    web = context(request)
    visitor = request.state.visitor
    if not web.auth.csrf_ok(visitor, csrf_token):
        raise HTTPException(403, "the form's CSRF token is missing or wrong: reload the page "
                            "and try again")
    if not web.auth.check_password(password):
        return render(request, "login.html", status_code=401, title="Log in",
                      next=safe_next(next), error="That is not the password.",
                      password_set=web.auth.password is not None)
    # A new session id on login: a session fixed by someone else before is worth nothing.
    fresh = web.auth.new_visitor(logged_in=True)
    response = RedirectResponse(safe_next(next), status_code=303)
    set_session_cookie(request, response, fresh)
    return response


@router.post("/logout")
def logout(request: Request, csrf_token: Annotated[str | None, Form()] = None) -> Response:
    web = context(request)
    if not web.auth.csrf_ok(request.state.visitor, csrf_token):
        raise HTTPException(403, "the form's CSRF token is missing or wrong")
    response = RedirectResponse("/login", status_code=303)
    set_session_cookie(request, response, web.auth.new_visitor(logged_in=False))
    return response

