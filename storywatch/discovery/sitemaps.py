"""XML sitemaps, sitemap indexes and Google News sitemaps, parsed from bytes.

Scrapy's own sitemap parser keeps only <loc> and <lastmod> and drops the nested
news:publication_date / news:title / news:language elements that news sites use to date
their stories, so this parser reads the XML itself with lxml. The parser is hardened for
documents from the open web: no entity resolution (billion laughs), no network access
(external DTDs), no huge-tree mode, and a size cap on gzip-compressed sitemaps.
"""

from __future__ import annotations

import gzip
import io
import re
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urljoin

from lxml import etree

from storywatch.normalise.dates import to_utc

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

    @property
    def date(self) -> datetime | None:
        """The best date for freshness: a news sitemap's publication date, else lastmod."""
        return self.published or self.lastmod


@dataclass
class ParsedSitemap:
    kind: str | None = None  # "urlset", "sitemapindex" or "text"
    entries: list[SitemapEntry] = field(default_factory=list)
    sitemaps: list[SitemapEntry] = field(default_factory=list)
    error: str | None = None


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


def _text_sitemap(data: bytes, base: str) -> ParsedSitemap:
    """The protocol's plain-text form: one absolute URL per line, nothing else."""
    lines = [line.strip() for line in data.decode("utf-8", errors="replace").splitlines()]
    urls = [line for line in lines if line]
    if not urls or not all(_ABSOLUTE.match(url) for url in urls):
        return ParsedSitemap(error="not a sitemap (neither XML nor a list of URLs)")
    return ParsedSitemap(kind="text", entries=[SitemapEntry(url) for url in urls])


def parse_sitemap(body: bytes, url: str) -> ParsedSitemap:
    """Parse a sitemap or sitemap index; a broken or foreign document gives `error`."""
    try:
        data = _decompress(body)
    except (OSError, EOFError, ValueError) as exc:
        return ParsedSitemap(error=f"cannot decompress the sitemap: {exc}")
    if not data.strip():
        return ParsedSitemap(error="empty document")
    if not data.lstrip().startswith(b"<"):
        return _text_sitemap(data, url)
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, huge_tree=False, recover=True,
        remove_comments=True, remove_pis=True,
    )
    try:
        root = etree.fromstring(data, parser=parser)
    except etree.XMLSyntaxError as exc:
        return ParsedSitemap(error=f"not valid XML: {exc}")
    if root is None:
        return ParsedSitemap(error="not valid XML")
    kind = _local(root.tag)
    result = ParsedSitemap(kind=kind)
    if kind == "urlset":
        for element in root:
            if _local(element.tag) == "url" and (entry := _entry(element, url)):
                result.entries.append(entry)
    elif kind == "sitemapindex":
        for element in root:
            if _local(element.tag) == "sitemap" and (entry := _entry(element, url)):
                result.sitemaps.append(entry)
    else:
        result.kind = None
        result.error = f"not a sitemap (root element <{kind}>)"
    return result


def robots_sitemaps(robots_txt: bytes, base: str) -> list[str]:
    """The `Sitemap:` lines of a robots.txt, as absolute URLs (Protego parses the file)."""
    from protego import Protego

    parser = Protego.parse(robots_txt.decode("utf-8", errors="replace"))
    found = (_absolute(url, base) for url in parser.sitemaps)
    return list(dict.fromkeys(url for url in found if url))
