"""Main text and metadata of one article page, from one parse of the page.

The page is parsed once into an lxml tree; the metadata reader and then trafilatura
(best text F1 on public benchmarks, comments excluded) read that tree. There is no
fallback extractor: on trafilatura's own corpus of ~1,000 real pages the readability and
<p> fallbacks never won where trafilatura found little, and cost a second and third
parse (benchmarks/extraction_real.py, docs/decisions.md). The `extractor` field says
who produced the text ("trafilatura", or "feed-summary" when the listing said more).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

import trafilatura
from htmldate import find_date
from lxml import etree
from lxml.html import HtmlElement
from trafilatura.metadata import (
    examine_meta,
    extract_author,
    extract_meta_json,
    extract_title,
)
from trafilatura.settings import Document, set_date_params
from trafilatura.utils import load_html

from storywatch.extraction.metadata import PageMetadata, read_metadata
from storywatch.normalise.dates import to_utc
from storywatch.normalise.text import clean_text, strip_control

log = logging.getLogger(__name__)
_T = TypeVar("_T")
# trafilatura logs at ERROR for every page it cannot parse: empty bodies, binary served
# as text/html. That is an expected outcome here, reported once as the item's failure
# reason, so its own log is silenced.
logging.getLogger("trafilatura").setLevel(logging.CRITICAL)

# Fewer words than this and the extractor probably caught a teaser or a caption.
MIN_ARTICLE_WORDS = 40
# Work cap per page, counted as '<' characters (about two per element) because counting
# costs microseconds. Extraction time grows with markup: 0.65 s for an article with 3,000
# links (6,000 tags), 4.7 s at 50,000 tags, 20 s and 530 MB for a page of 100,000 links
# (docs/decisions/hardening.md). Real article pages, live blogs included, stay well under
# 40,000; a page over it is refused instead of stalling the crawl for seconds.
MAX_MARKUP_TAGS = 40_000
# Every element trafilatura's byline search (`extract_author`, AUTHOR_XPATHS) can match
# has one of these words in its tag name or in the attribute value it is matched on, so a
# page whose markup holds none of them has no byline for it to find. One look through
# the lowercased markup (0.4 ms; a case-blind regular expression took 1.8) instead of a
# copy of the tree and three scans of it with regular expressions (7.5 ms): 140 of the
# 405 pages of trafilatura's evaluation corpus it ran on (benchmarks/extraction_real.py),
# none with a byline it found. tests/test_extraction.py checks trafilatura's XPaths.
BYLINE_WORDS = ("author", "byl", "bbl", "username", "screenname", "writer", "zuozhe",
                "bianji", "xiaobian", "channel-name", "submitted-by", "posted-by",
                "journalist-name", "<rel")


# What those XPaths test: these attributes of any element, and elements named `author`
# or `rel` (a child `rel` whose text is "me"). Pruning the tree, as the search does
# first, only removes elements, so a tree where none of these attributes holds one of
# the words, and no such element is found, gives it nothing either: 70 more of those 405
# pages (their markup has the words elsewhere: scripts, meta tags, links), 1 ms a page
# against the search's 6.
BYLINE_ATTRIBUTES = ("class", "id", "rel", "itemprop", "data-testid", "data-component")
_BYLINE_VALUES = etree.XPath(" | ".join(f"//@{name}" for name in BYLINE_ATTRIBUTES))
_BYLINE_ELEMENTS = etree.XPath("boolean(//author | //rel)")


def may_have_byline(markup: str) -> bool:
    """False when trafilatura's byline search cannot match anything in the markup (or in
    any text: the parsed page's hint below asks it of the attribute values)."""
    low = markup.lower()
    return any(word in low for word in BYLINE_WORDS)


def may_have_byline_in(tree: HtmlElement) -> bool:
    """False when trafilatura's byline search cannot match anything in the parsed page."""
    return bool(_BYLINE_ELEMENTS(tree)) or may_have_byline(" ".join(_BYLINE_VALUES(tree)))


@dataclass
class Article:
    url: str | None
    title: str | None
    text: str
    authors: list[str] = field(default_factory=list)
    published_at: datetime | None = None
    language: str | None = None
    canonical_url: str | None = None
    amphtml_url: str | None = None
    description: str | None = None
    site_name: str | None = None
    page_type: str | None = None
    has_article_markup: bool = False
    extractor: str = "none"
    origins: dict[str, str] = field(default_factory=dict)
    problem: str | None = None  # why nothing was extracted, when the page was refused


def _quietly(search: Callable[[HtmlElement], _T], tree: HtmlElement, url: str | None,
             what: str) -> _T | None:
    """One of trafilatura's (or htmldate's) steps on the page, None where it fails: they
    raise assorted lxml errors on broken markup, an expected outcome here."""
    try:
        return search(tree)
    except Exception as exc:
        log.debug("%s failed on %s: %s", what, url, exc)
        return None


def _trafilatura(tree: HtmlElement, url: str | None) -> str:
    # include_comments=False: reader comments are not the article.
    # deduplicate=False: its module-level LRU cache makes repeated runs lossy.
    # Given a tree, trafilatura works on a copy: the caller's tree is left as it was.
    doc = _quietly(lambda t: trafilatura.bare_extraction(
        t, url=url, include_comments=False, deduplicate=False, with_metadata=False),
        tree, url, "trafilatura")
    if doc is None or isinstance(doc, dict):
        return ""
    return clean_text(doc.text)


class _Searched:
    """The steps of trafilatura's metadata pass, each run on demand: its meta tag and
    JSON-LD reading (0.6 ms; it knows tags storywatch's reader does not), then its title
    search (a lone <h1>, ...) or its byline search (6 ms); and its date search (htmldate
    with the pass's settings: the original date, extensive search, nothing after today;
    told the page's URL as the pass tells it; htmldate works on a copy of the tree)."""

    def __init__(self, tree: HtmlElement, url: str | None, html: str) -> None:
        self.tree = tree
        self.url = url
        self.html = html
        self._meta: Document | None = None

    def _tags(self) -> Document:
        if self._meta is None:
            self._meta = _quietly(_meta_tags, self.tree, self.url, "metadata search") \
                or Document()
        return self._meta

    def title(self) -> str | None:
        return self._tags().title or _quietly(extract_title, self.tree, self.url,
                                              "title search")

    def author(self) -> str | None:
        if found := self._tags().author:
            return found
        if not may_have_byline(self.html) or not may_have_byline_in(self.tree):
            return None
        return _quietly(extract_author, self.tree, self.url, "author search")

    def date(self, canonical: str | None) -> str | None:
        settings = {**set_date_params(True), "url": canonical or self.url}
        return _quietly(lambda t: find_date(t, **settings), self.tree, self.url,
                        "date search")


def _meta_tags(tree: HtmlElement) -> Document:
    found = examine_meta(tree)
    if found.author and " " not in found.author:  # as the pass does
        found.author = None
    return extract_meta_json(tree, found)


def parse_page(html: str) -> HtmlElement | None:
    """The page's lxml tree as trafilatura builds it (its repairs included), or None."""
    try:
        return load_html(html)
    except Exception as exc:  # lxml raises on some binary input
        log.debug("cannot parse page: %s", exc)
        return None


def extract_article(html: str, url: str | None = None, *, listing_date: bool = False,
                    listing_authors: bool = False) -> Article:
    """Extract one article; never raises on bad markup (an empty text means nothing found).

    `listing_date`, `listing_authors`: the listing (feed or sitemap entry) states them, so
    trafilatura is not asked for them when the page's markup lacks them (see below)."""
    html = strip_control(html)
    if not html.strip():
        return Article(url=url, title=None, text="", problem="empty page")
    tags = html.count("<")
    if tags > MAX_MARKUP_TAGS:
        return Article(url=url, title=None, text="",
                       problem=f"page too large to extract ({tags} tags, limit {MAX_MARKUP_TAGS})")
    tree = parse_page(html)
    if tree is None:  # nothing lxml can read: no text, said as such by the caller
        return Article(url=url, title=None, text="")
    meta: PageMetadata = read_metadata(tree, url)

    # trafilatura's own metadata pass costs as much as its text extraction (15 of 25 ms a
    # page on its evaluation corpus: its byline search 6, categories, tags, licence and
    # site name 3, which nothing here uses), so only its steps for what neither the
    # markup nor the listing states are run: its date search, its title search when only
    # <title> gave one, its meta tags then byline search when no author is known
    # (benchmarks/extraction_real.py: same text F1, 1.36x instead of 1.40x trafilatura's
    # time without a listing; an author on 44 more of 990 pages).
    text = _trafilatura(tree, url)
    extractor = "trafilatura" if text else "none"
    origins = dict(meta.origins)
    title = meta.title
    searched = _Searched(tree, url, html)
    if origins.get("title") in (None, "title") and (found := searched.title()):
        title, origins["title"] = found, "trafilatura"
    authors = meta.authors
    if not authors and not listing_authors and (found := searched.author()):
        authors = [a.strip() for a in found.split(";") if a.strip()]
        origins["authors"] = "trafilatura"
    published = to_utc(meta.published)
    if published is None and not listing_date and (found := searched.date(meta.canonical)):
        published = to_utc(found)
        origins["published"] = "trafilatura"

    return Article(
        url=url,
        title=clean_text(title) or None,
        text=text,
        authors=authors,
        published_at=published,
        language=meta.language,
        canonical_url=meta.canonical,
        amphtml_url=meta.amphtml,
        description=meta.description,
        site_name=meta.site_name,
        page_type=meta.page_type,
        has_article_markup=meta.has_article_markup,
        extractor=extractor,
        origins=origins,
    )
