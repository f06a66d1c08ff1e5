"""RSS 0.9x/1.0/2.0 and Atom feeds, parsed by feedparser into article links with hints."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

import feedparser
from feedparser.encodings import convert_to_utf8

from storywatch.normalise.item import FeedHints
from storywatch.normalise.urls import document_base


@dataclass
class FeedEntry:
    link: str
    hints: FeedHints


@dataclass
class ParsedFeed:
    entries: list[FeedEntry] = field(default_factory=list)
    title: str | None = None
    error: str | None = None  # why the document is not a usable feed
    warning: str | None = None  # usable, but malformed: entries were recovered


def parse_feed(body: bytes, url: str, content_type: str | None = None,
               content_location: str | None = None) -> ParsedFeed:
    """Parse a feed; a broken or non-feed document gives `error` instead of raising.

    feedparser is lenient (it recovers entries from mildly broken XML and reports it as
    `bozo`), so a feed is rejected only when nothing usable came out of it. An empty
    body is a feed with nothing in it, not an error. Relative links are resolved against
    the response's Content-Location when it gave one, as HTTP says, else the feed's URL.
    """
    if not body.strip():
        return ParsedFeed()
    base = document_base(url, content_location)
    body, content_type = as_utf8(body, content_type)
    headers = {"content-type": content_type} if content_type else {}
    body = strip_doctype(body)
    parsed = feedparser.parse(body, response_headers=headers, resolve_relative_uris=False,
                              sanitize_html=False)
    version = parsed.get("version") or ""
    result = ParsedFeed(title=parsed.feed.get("title"))
    for entry in parsed.entries:
        link = _entry_link(entry, base)
        if not link:
            continue
        authors = [a.get("name", "").strip() for a in entry.get("authors", []) if a.get("name")]
        if not authors and entry.get("author"):
            authors = [entry["author"].strip()]
        result.entries.append(
            FeedEntry(
                link=link,
                hints=FeedHints(
                    title=entry.get("title"),
                    summary=entry.get("summary"),
                    published=entry.get("published_parsed") or entry.get("updated_parsed")
                    or entry.get("published") or entry.get("updated"),
                    authors=authors,
                    language=entry.get("language") or parsed.feed.get("language"),
                ),
            )
        )
    if result.entries and parsed.bozo:
        reason = parsed.get("bozo_exception")
        result.warning = f"malformed feed, {len(result.entries)} entries recovered ({reason})"
    if not result.entries and (parsed.bozo or not version):
        reason = parsed.get("bozo_exception")
        result.error = (
            f"not a usable feed ({type(reason).__name__}: {reason})" if reason
            else "not a feed (no RSS/Atom root element)"
        )
    return result


_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)
_CHARSET = re.compile(r";\s*charset\s*=[^;]*", re.IGNORECASE)


def as_utf8(body: bytes, content_type: str | None) -> tuple[bytes, str | None]:
    """The feed as UTF-8, decoded exactly as feedparser would decode it, and a Content-Type
    that says so.

    Why: strip_doctype looks for the ASCII bytes `<!DOCTYPE`, which a UTF-16, UTF-32,
    UTF-7 or EBCDIC feed does not contain, while expat, which reads the text decoded,
    still expands its internal entities (a 4.7 MB UTF-16 feed became 200 MB). Decoding
    first with feedparser's own detection (HTTP charset, XML declaration, BOM) means the
    DOCTYPE is cut from the very text the parser reads, in every encoding.
    """
    result: dict[str, Any] = {}
    headers = {"content-type": content_type} if content_type else {}
    converted = convert_to_utf8(headers, body, result)
    if not result.get("encoding"):
        return body, content_type  # undecodable: feedparser reports it on the same bytes
    if content_type:
        content_type = _CHARSET.sub("", content_type) + "; charset=utf-8"
    return converted, content_type


def strip_doctype(body: bytes) -> bytes:
    """Remove every DOCTYPE declaration, internal subset included, before any XML parser.

    Why: a DOCTYPE is where entities are declared, and entities are how a feed attacks its
    reader (a billion-laughs expansion, or an external entity reading a local file).
    feedparser turns external entities off, and its own DOCTYPE filter misses
    declarations that are not at the start of a line, so internal entities reach expat,
    whose only defence is its amplification limit (expat >= 2.4; older ones expand).
    A feed never needs a DOCTYPE, so it is cut out; references to the entities it
    declared then fail strict parsing, and feedparser's lenient parser keeps them as text.
    Hand-written because defusedxml's SAX reader raises (not a SAX error) out of
    feedparser on the first entity, losing the feed's entries.
    """
    if not _DOCTYPE.search(body):
        return body
    out = bytearray()
    position = 0
    while match := _DOCTYPE.search(body, position):
        out += body[position:match.start()]
        position = _declaration_end(body, match.end())
    out += body[position:]
    return bytes(out)


def _declaration_end(body: bytes, index: int) -> int:
    """Index after the '>' closing a declaration, skipping quoted strings and [subsets]."""
    quote: int | None = None
    depth = 0
    while index < len(body):
        byte = body[index]
        index += 1
        if quote is not None:
            if byte == quote:
                quote = None
        elif byte in (0x22, 0x27):  # " and '
            quote = byte
        elif byte == 0x5B:  # [
            depth += 1
        elif byte == 0x5D:  # ]
            depth = max(0, depth - 1)
        elif byte == 0x3E and depth == 0:  # >
            return index
    return len(body)  # unterminated: drop the rest, nothing after it can be trusted


# A guid usable as a link: an absolute http(s) URL as written, nothing resolved against.
_ABSOLUTE_HTTP = re.compile(r"^https?://[^\s/?#]+[^\s]*$", re.IGNORECASE)


def _entry_link(entry: feedparser.FeedParserDict, base: str) -> str | None:
    """The entry's link, else its guid only where the guid is a permalink URL.

    feedparser copies a guid into `link` unless isPermaLink="false"; such a guid is used
    only when it is an absolute http(s) URL by itself. A guid resolved against the feed's
    URL (`abc` → `…/feeds/abc`) is a made-up address, never the article's.
    """
    from_guid = bool(entry.get("guidislink")) and entry.get("link") == entry.get("id")
    candidates = [] if from_guid else [entry.get("link")]
    candidates += [link.get("href") for link in entry.get("links", []) if link.get("rel") in
                   (None, "alternate")]
    for candidate in candidates:
        if candidate and isinstance(candidate, str):
            absolute = urljoin(base, candidate.strip())
            if absolute.startswith(("http://", "https://")):
                return absolute
    guid = entry.get("id")
    if from_guid and isinstance(guid, str) and _ABSOLUTE_HTTP.match(guid.strip()):
        return guid.strip()
    return None
