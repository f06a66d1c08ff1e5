"""Subscribers and their schedules, and the digest preview (the unsubscribe page is in
web/unsubscribe.py)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from storywatch.normalise.dates import utc_now
from storywatch.notify.preview import recent_followups_digest
from storywatch.notify.subscribers import (
    WEEKDAYS,
    Schedule,
    SubscriptionError,
    add_subscription,
    list_subscriptions,
    normalise_email,
    remove_subscription,
)
from storywatch.web.context import context, render, require_read, require_write
from storywatch.web.pages import topic_name

router = APIRouter(include_in_schema=False)
# The digest preview is the mail's own HTML (sanitised by nh3, styles inlined by
# css-inline): it may use inline styles, and nothing else.
PREVIEW_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:"


def _back(message: str) -> Response:
    return RedirectResponse(f"/subscriptions?message={quote(message)}", status_code=303)


@router.get("/subscriptions", dependencies=[Depends(require_read)])
def subscriptions_page(request: Request) -> Response:
    web = context(request)
    with web.storage.session() as session:
        rows = list_subscriptions(session)
    return render(request, "subscriptions.html", title="Subscriptions", subscriptions=rows,
                  weekdays=WEEKDAYS, message=request.query_params.get("message"))


@router.post("/subscriptions")
def add(request: Request, email: Annotated[str, Form()], topic: Annotated[str, Form()],
        every: Annotated[str, Form()] = "daily", at: Annotated[str, Form()] = "07:00",
        tz: Annotated[str, Form()] = "UTC", day: Annotated[str, Form()] = "monday",
        csrf_token: Annotated[str | None, Form()] = None) -> Response:
    require_write(request, csrf_token)
    web = context(request)
    name = topic_name(request, topic)
    try:
        address = normalise_email(email)
        schedule = Schedule.parse(every=every, at=at, tz=tz, day=day)
    except SubscriptionError as exc:
        raise HTTPException(400, str(exc).replace("--", "")) from None
    with web.storage.session() as session:
        created = add_subscription(session, address, name, schedule, utc_now())
    return _back(f"{'subscribed' if created else 'changed the schedule of'} {address} "
                 f"to {name}: {schedule.describe()}")


@router.post("/subscriptions/remove")
def remove(request: Request, email: Annotated[str, Form()], topic: Annotated[str, Form()],
           csrf_token: Annotated[str | None, Form()] = None) -> Response:
    require_write(request, csrf_token)
    web = context(request)
    with web.storage.session() as session:
        removed = remove_subscription(session, email, topic)
    return _back(f"removed {email} from {topic}" if removed else
                 f"{email} was not subscribed to {topic}")


@router.get("/subscriptions/preview", dependencies=[Depends(require_read)])
def preview(request: Request, topic: str, email: str | None = None) -> Response:
    """The digest this subscriber would get now (or, without one, the topic's recent
    follow-ups); nothing is sent or recorded."""
    from storywatch.notify.render import render_digest
    from storywatch.notify.send import pending_digest

    web = context(request)
    name = topic_name(request, topic)
    schedule = Schedule.parse(every="immediate")
    if email:
        with web.storage.session() as session:
            rows = list_subscriptions(session, topic=name, email=email)
        if not rows:
            raise HTTPException(404, f"{email} is not subscribed to {name}")
        schedule = rows[0].schedule
        digest = pending_digest(web.storage, web.config, rows[0])
    else:
        digest = recent_followups_digest(web.config, web.storage, name)
    if digest is None:
        return render(request, "error.html", title="Nothing to send",
                      message=f"No follow-ups of {name} are pending for this digest.")
    rendered = render_digest(digest, unsubscribe_url=None, schedule=schedule.describe())
    return HTMLResponse(rendered.html, headers={"Content-Security-Policy": PREVIEW_POLICY})
