"""XML sitemaps, sitemap indexes and Google News sitemaps, parsed from bytes.

Scrapy's own sitemap parser keeps only <loc> and <lastmod> and drops the nested
news:publication_date / news:title / news:language elements that news sites use to date
their stories, so this parser reads the XML itself with lxml. The parser is hardened for
documents from the open web: no entity resolution (billion laughs), no network access
(external DTDs), no huge-tree mode, and a size cap on gzip-compressed sitemaps.

What real sites serve as "sitemaps" is wider than the protocol, and all of it is read:
a byte-order mark (UTF-8, UTF-16, UTF-32) before the XML or the text; text sitemaps with
blank or junk lines (the URL lines are kept); RSS and Atom feeds listed as sitemaps (read
as lists of pages); and documents cut off mid-transfer, of which only the entries whose
element closed are kept, so a half-received <loc> never becomes a request.
"""

from __future__ import annotations

import codecs
import gzip
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urljoin

from lxml import etree

from storywatch.normalise.dates import to_utc
from storywatch.normalise.item import FeedHints

_ABSOLUTE = re.compile(r"^https?://[^\s/]+[^\s]*$", re.IGNORECASE)
# The sitemaps protocol caps an uncompressed sitemap at 50 MB; more is not a sitemap.
MAX_SITEMAP_BYTES = 50 * 1024 * 1024


@dataclass
class SitemapEntry:
    """One <url> (or one <sitemap> of an index) with what it says about its page."""

    loc: str
    lastmod: datetime | None = None
    published: datetime | None = None  # news:publication_date
    title: str | None = None  # news:title
    language: str | None = None  # news:language
    hints: FeedHints | None = None  # a feed entry's hints (summary, authors) when read as one

    @property
    def date(self) -> datetime | None:
        """The best date for freshness: a news sitemap's publication date, else lastmod."""
        return self.published or self.lastmod


@dataclass
class ParsedSitemap:
    kind: str | None = None  # "urlset", "sitemapindex", "text", "feed" or "empty"
    entries: list[SitemapEntry] = field(default_factory=list)
    sitemaps: list[SitemapEntry] = field(default_factory=list)
    error: str | None = None  # why the document is not a sitemap: nothing of it is used
    warning: str | None = None  # usable, but parts were skipped (junk lines, a cut-off end)


def _local(tag: object) -> str:
    if not isinstance(tag, str):
        return ""  # comments and processing instructions
    return tag.rsplit("}", 1)[-1].lower()


def _text(element: etree._Element) -> str | None:
    text = (element.text or "").strip()
    return text or None


def _absolute(loc: str | None, base: str) -> str | None:
    if not loc:
        return None
    url = urljoin(base, loc.strip())
    return url if url.startswith(("http://", "https://")) else None


def _decompress(body: bytes) -> bytes:
    if body[:2] != b"\x1f\x8b":
        return body
    with gzip.GzipFile(fileobj=io.BytesIO(body)) as stream:
        data = stream.read(MAX_SITEMAP_BYTES + 1)
    if len(data) > MAX_SITEMAP_BYTES:
        raise ValueError(f"sitemap larger than {MAX_SITEMAP_BYTES // 2**20} MB uncompressed")
    return data


def _entry(element: etree._Element, base: str) -> SitemapEntry | None:
    loc = lastmod = published = title = language = None
    for child in element:
        name = _local(child.tag)
        if name == "loc":
            loc = _text(child)
        elif name == "lastmod":
            lastmod = _text(child)
        elif name == "news":
            for part in child.iter():
                part_name = _local(part.tag)
                if part_name == "publication_date":
                    published = _text(part)
                elif part_name == "title":
                    title = _text(part)
                elif part_name == "language":
                    language = _text(part)
    url = _absolute(loc, base)
    if url is None:
        return None
    return SitemapEntry(url, to_utc(lastmod), to_utc(published), title, language)


# Byte-order marks, longest first: the UTF-32 LE mark begins with the UTF-16 LE one.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
)
# Root elements of feeds that sites list as sitemaps (RSS 0.9x/2.0, RSS 1.0 RDF, Atom).
_FEED_ROOTS = {"rss", "rdf", "feed"}


def _as_text(data: bytes) -> str:
    """The document as text, whatever byte-order mark it starts with (UTF-8 without one).

    Why: the protocol says UTF-8, but sitemaps saved by Windows tools begin with a BOM,
    and some are UTF-16; neither is "not a sitemap".
    """
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return data.decode(codec, errors="replace")
    if data[:2] in (b"<\x00", b"\x00<"):  # UTF-16 XML without a mark
        return data.decode("utf-16-le" if data[0] == 0x3C else "utf-16-be", errors="replace")
    return data.decode("utf-8", errors="replace")


def _text_sitemap(text: str) -> ParsedSitemap:
    """The protocol's plain-text form: one absolute URL per line.

    Lines that are not an absolute http(s) URL (blank lines, comments, stray words) are
    skipped, not fatal: one bad line must not hide the good ones. A document with no URL
    line at all is not a sitemap.
    """
    lines = [line.strip() for line in text.splitlines()]
    urls = [line for line in lines if _ABSOLUTE.match(line)]
    junk = [line for line in lines if line and not _ABSOLUTE.match(line)]
    if not urls:
        return ParsedSitemap(error="not a sitemap (neither XML nor a list of URLs)")
    result = ParsedSitemap(kind="text", entries=[SitemapEntry(url) for url in urls])
    if junk:
        result.warning = f"{len(junk)} line(s) that are not URLs skipped (first: {junk[0][:80]!r})"
    return result


def _feed_as_sitemap(data: bytes, base: str) -> ParsedSitemap:
    """An RSS or Atom feed listed as a sitemap: its entries are the pages it lists."""
    from storywatch.discovery.feeds import parse_feed

    feed = parse_feed(data, base)
    if feed.error:
        return ParsedSitemap(error=feed.error)
    entries = [
        SitemapEntry(entry.link, published=to_utc(entry.hints.published),
                     title=entry.hints.title, language=entry.hints.language, hints=entry.hints)
        for entry in feed.entries
    ]
    return ParsedSitemap(kind="feed", entries=entries, warning=feed.warning)


def parse_sitemap(body: bytes, url: str) -> ParsedSitemap:
    """Parse a sitemap or sitemap index; a broken or foreign document gives `error`.

    `url` is the base for relative locations: the sitemap's URL, or the response's
    Content-Location when it gave one. An empty document is a sitemap with nothing in it.
    """
    try:
        data = _decompress(body)
    except (OSError, EOFError, ValueError) as exc:
        return ParsedSitemap(error=f"cannot decompress the sitemap: {exc}")
    text = _as_text(data[:4096])
    if not text.strip() and not _as_text(data).strip():
        return ParsedSitemap(kind="empty")
    if not text.lstrip().startswith("<"):
        return _text_sitemap(_as_text(data))
    return _xml_sitemap(data, url)


def _xml_sitemap(data: bytes, url: str) -> ParsedSitemap:
    """Read the XML as a stream: an entry counts only once its closing tag has arrived.

    A pull parser reports an element's end only when the document closes it; the
    recovering tree parser would close a cut-off <loc> itself and hand back half a URL.
    lxml reads the byte-order mark and the declared encoding (UTF-16 included).
    """
    result = ParsedSitemap()
    depth = 0
    open_entries = 0
    try:
        for event, element in _events(data):
            if event == "start":
                depth += 1
                if depth == 1:
                    result.kind = _local(element.tag)
                    if result.kind in _FEED_ROOTS:
                        return _feed_as_sitemap(data, url)
                    if result.kind not in ("urlset", "sitemapindex"):
                        return ParsedSitemap(
                            error=f"not a sitemap (root element <{result.kind}>)")
                elif depth == 2:
                    open_entries += 1
                continue
            depth -= 1
            if depth != 1:
                continue
            open_entries -= 1
            name = _local(element.tag)
            if name == "url" and result.kind == "urlset" and (entry := _entry(element, url)):
                result.entries.append(entry)
            elif name == "sitemap" and result.kind == "sitemapindex" and (
                entry := _entry(element, url)
            ):
                result.sitemaps.append(entry)
            element.clear()  # done with it: a 50,000-entry sitemap need not stay in memory
    except etree.XMLSyntaxError as exc:
        return ParsedSitemap(error=f"not valid XML: {exc}")
    if result.kind is None:
        return ParsedSitemap(error="not valid XML")
    if open_entries > 0 or depth > 0:
        result.warning = "document cut off before its end: only the complete entries are kept"
    return result


_CHUNK = 1 << 16


def _pull_parser() -> etree.XMLPullParser:
    return etree.XMLPullParser(
        events=("start", "end"), resolve_entities=False, no_network=True, huge_tree=False,
        recover=True, remove_comments=True, remove_pis=True,
    )


def _events(data: bytes) -> Iterator[tuple[str, etree._Element]]:
    """The parser's events, fed a chunk at a time so that they never pile up in memory."""
    parser = _pull_parser()
    for offset in range(0, len(data), _CHUNK):
        parser.feed(data[offset:offset + _CHUNK])
        yield from parser.read_events()


def robots_sitemaps(robots_txt: bytes, base: str) -> list[str]:
    """The `Sitemap:` lines of a robots.txt, as absolute URLs (Protego parses the file)."""
    from protego import Protego

    parser = Protego.parse(robots_txt.decode("utf-8", errors="replace"))
    found = (_absolute(url, base) for url in parser.sitemaps)
    return list(dict.fromkeys(url for url in found if url))
