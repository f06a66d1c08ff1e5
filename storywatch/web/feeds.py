"""An Atom feed per topic (RFC 4287): its newest follow-ups, so a feed reader follows the story.

Built with ElementTree, which escapes every scraped string as XML text or attribute; a
feed reader that renders summaries as HTML gets plain text. Clusters are one entry, as
in the list, with the other outlets named in the summary.
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote
from xml.etree import ElementTree as ET

from fastapi import APIRouter, Depends
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
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed")
    topic_path = f"/topics/{quote(name, safe='')}"
    ET.SubElement(feed, f"{{{ATOM}}}id").text = f"{base}{topic_path}/followups"
    ET.SubElement(feed, f"{{{ATOM}}}title").text = f"storywatch: follow-ups of {name}"
    ET.SubElement(feed, f"{{{ATOM}}}link", rel="self", href=f"{base}{topic_path}/followups.atom",
                  type="application/atom+xml")
    ET.SubElement(feed, f"{{{ATOM}}}link", rel="alternate", href=f"{base}{topic_path}/followups",
                  type="text/html")
    ET.SubElement(feed, f"{{{ATOM}}}generator").text = "storywatch"
    newest = datetime(1970, 1, 1, tzinfo=UTC)
    entries = []
    for entry in page.entries:
        detail = details.get(entry.id)
        updated = entry.published_at or (detail.fetched_at if detail else None) or newest
        newest = max(newest, updated)
        element = ET.Element(f"{{{ATOM}}}entry")
        ET.SubElement(element, f"{{{ATOM}}}id").text = f"{base}/items/{entry.id}"
        ET.SubElement(element, f"{{{ATOM}}}title").text = one_line(entry.title) or "(no title)"
        link = safe_link(entry.url)
        if link:
            ET.SubElement(element, f"{{{ATOM}}}link", rel="alternate", href=link)
        ET.SubElement(element, f"{{{ATOM}}}link", rel="related", href=f"{base}/items/{entry.id}")
        ET.SubElement(element, f"{{{ATOM}}}updated").text = _stamp(updated)
        if entry.published_at:
            ET.SubElement(element, f"{{{ATOM}}}published").text = _stamp(entry.published_at)
        author = ET.SubElement(element, f"{{{ATOM}}}author")
        ET.SubElement(author, f"{{{ATOM}}}name").text = entry.source
        summary = shorten(one_line(detail.text if detail else ""), SUMMARY_CHARS)
        if entry.also:
            summary += " Also reported by " + ", ".join(
                sorted({other["source"] for other in entry.also})) + "."
        ET.SubElement(element, f"{{{ATOM}}}summary", type="text").text = summary
        entries.append(element)
    ET.SubElement(feed, f"{{{ATOM}}}updated").text = _stamp(
        newest if entries else datetime.now(UTC))
    feed.extend(entries)
    body = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return Response(body, media_type="application/atom+xml; charset=utf-8",
                    headers={"Cache-Control": "no-cache"})
