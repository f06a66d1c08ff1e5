"""An Atom feed per topic (RFC 4287): its newest follow-ups, so a feed reader follows the story.

Built with lxml's element tree, which escapes every scraped string as XML text or
attribute (characters XML cannot hold are dropped first); a feed reader that renders
summaries as HTML gets plain text. Clusters are one entry, as
in the list, with the other outlets named in the summary.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends
from lxml import etree
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response

from storywatch.notify.digest import one_line, safe_link, shorten
from storywatch.storage.browse import ItemFilter, list_entries
from storywatch.storage.models import Item
from storywatch.web.context import context, require_read
from storywatch.web.pages import topic_name

router = APIRouter(include_in_schema=False)
ATOM = "http://www.w3.org/2005/Atom"
SUMMARY_CHARS = 320


# Characters XML 1.0 cannot hold (lxml refuses them rather than write a broken feed).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _text(value: str) -> str:
    return _NOT_XML.sub("", value)


def _add(parent: Any, name: str, text: str | None = None, **attributes: str) -> Any:
    child = etree.SubElement(parent, f"{{{ATOM}}}{name}",
                             {key: _text(value) for key, value in attributes.items()})
    if text is not None:
        child.text = _text(text)
    return child


def _stamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@router.get("/topics/{topic}/followups.atom", dependencies=[Depends(require_read)])
def followups_feed(request: Request, topic: str) -> Response:
    web = context(request)
    name = topic_name(request, topic)
    base = str(request.base_url).rstrip("/")
    with web.storage.session() as session:
        page = list_entries(session, ItemFilter(topic=name), limit=web.config.web.page_size)
        ids = [e.id for e in page.entries]
        details = {row.id: row for row in session.execute(
            select(Item.id, Item.text, Item.fetched_at).where(Item.id.in_(ids)))} if ids else {}
    feed = etree.Element(f"{{{ATOM}}}feed", nsmap={None: ATOM})
    topic_path = f"{base}/topics/{quote(name, safe='')}"
    _add(feed, "id", f"{topic_path}/followups")
    _add(feed, "title", f"storywatch: follow-ups of {name}")
    _add(feed, "link", rel="self", href=f"{topic_path}/followups.atom",
         type="application/atom+xml")
    _add(feed, "link", rel="alternate", href=f"{topic_path}/followups", type="text/html")
    _add(feed, "generator", "storywatch")
    newest = datetime(1970, 1, 1, tzinfo=UTC)
    entries = []
    for entry in page.entries:
        detail = details.get(entry.id)
        updated = entry.published_at or (detail.fetched_at if detail else None) or newest
        newest = max(newest, updated)
        element = etree.Element(f"{{{ATOM}}}entry")
        _add(element, "id", f"{base}/items/{entry.id}")
        _add(element, "title", one_line(entry.title) or "(no title)")
        link = safe_link(entry.url)
        if link:
            _add(element, "link", rel="alternate", href=link)
        _add(element, "link", rel="related", href=f"{base}/items/{entry.id}")
        _add(element, "updated", _stamp(updated))
        if entry.published_at:
            _add(element, "published", _stamp(entry.published_at))
        _add(_add(element, "author"), "name", entry.source)
        summary = shorten(one_line(detail.text if detail else ""), SUMMARY_CHARS)
        if entry.also:
            summary += " Also reported by " + ", ".join(
                sorted({other["source"] for other in entry.also})) + "."
        _add(element, "summary", summary, type="text")
        entries.append(element)
    _add(feed, "updated", _stamp(newest if entries else datetime.now(UTC)))
    feed.extend(entries)
    body = etree.tostring(feed, encoding="utf-8", xml_declaration=True)
    return Response(body, media_type="application/atom+xml; charset=utf-8",
                    headers={"Cache-Control": "no-cache"})
