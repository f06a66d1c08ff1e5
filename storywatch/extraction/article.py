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
from dataclasses import dataclass, field
from datetime import datetime

import trafilatura
from lxml.html import HtmlElement
from trafilatura.metadata import extract_author
from trafilatura.utils import load_html

from storywatch.extraction.metadata import PageMetadata, read_metadata
from storywatch.normalise.dates import to_utc
from storywatch.normalise.text import clean_text, strip_control

log = logging.getLogger(__name__)
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


def _trafilatura(
    tree: HtmlElement, url: str | None, with_metadata: bool
) -> tuple[str, trafilatura.settings.Document | None]:
    try:
        # include_comments=False: reader comments are not the article.
        # deduplicate=False: its module-level LRU cache makes repeated runs lossy.
        # Given a tree, trafilatura works on a copy: the caller's tree is left as it was.
        doc = trafilatura.bare_extraction(
            tree, url=url, include_comments=False, deduplicate=False, with_metadata=with_metadata
        )
    except Exception as exc:  # trafilatura raises assorted lxml errors on broken markup
        log.debug("trafilatura failed on %s: %s", url, exc)
        return "", None
    if doc is None or isinstance(doc, dict):
        return "", None
    return clean_text(doc.text), doc


def _author_search(tree: HtmlElement, url: str | None) -> str | None:
    """trafilatura's byline search (`extract_author`, the step of its metadata pass that
    reads bylines, not meta tags), without the rest of that pass."""
    try:
        return extract_author(tree)
    except Exception as exc:  # assorted lxml errors on broken markup, as above
        log.debug("author search failed on %s: %s", url, exc)
        return None


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

    # trafilatura's own metadata pass costs as much as its text extraction (27 of 60 ms a
    # page on its evaluation corpus, 12 of them its byline search), so it is asked
    # only for what neither the markup nor the listing states: the date, or a better title
    # than <title>'s. Authors alone, when both lack them, come from its author search
    # only (12 ms; the same authors as the whole pass on 449 of 481 such pages, none
    # where it found none: benchmarks/extraction_real.py).
    needs_metadata = not (meta.published or listing_date) or \
        meta.origins.get("title") in (None, "title")
    text, doc = _trafilatura(tree, url, with_metadata=needs_metadata)
    extractor = "trafilatura" if text else "none"
    origins = dict(meta.origins)
    title = meta.title
    if doc is not None and doc.title and origins.get("title") in (None, "title"):
        title, origins["title"] = doc.title, "trafilatura"
    authors = meta.authors
    found_authors = doc.author if doc is not None else None
    if not authors and not found_authors and not needs_metadata and not listing_authors:
        found_authors = _author_search(tree, url)
    if not authors and found_authors:
        authors = [a.strip() for a in found_authors.split(";") if a.strip()]
        origins["authors"] = "trafilatura"
    published = to_utc(meta.published)
    if published is None and doc is not None and doc.date:
        published = to_utc(doc.date)
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
        description=meta.description or (doc.description if doc is not None else None),
        site_name=meta.site_name or (doc.sitename if doc is not None else None),
        page_type=meta.page_type,
        has_article_markup=meta.has_article_markup,
        extractor=extractor,
        origins=origins,
    )
