"""Main text and metadata of one article page, with a fallback chain that records who won.

trafilatura is first (best text F1 on public benchmarks, comments excluded); when it
returns too little, readability-lxml and then the page's own <article>/<p> markup are
tried, as Media Cloud's metadata-lib does. The `extractor` field says which one produced
the text, so a bad item can be traced to its extractor.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

import trafilatura
from bs4 import BeautifulSoup
from readability import Document as ReadabilityDocument

from storywatch.extraction.metadata import PageMetadata, read_metadata
from storywatch.normalise.dates import to_utc
from storywatch.normalise.text import clean_text, strip_control

log = logging.getLogger(__name__)
# Both extractors log at ERROR (readability with a full traceback) for every page they
# cannot parse: empty bodies, binary served as text/html. That is an expected outcome
# here, reported once as the item's failure reason, so their own logs are silenced.
for _noisy in ("readability.readability", "trafilatura"):
    logging.getLogger(_noisy).setLevel(logging.CRITICAL)

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

    @property
    def word_count(self) -> int:
        return len(self.text.split())


def _trafilatura(
    html: str, url: str | None, with_metadata: bool
) -> tuple[str, trafilatura.settings.Document | None]:
    try:
        # include_comments=False: reader comments are not the article.
        # deduplicate=False: its module-level LRU cache makes repeated runs lossy.
        doc = trafilatura.bare_extraction(
            html, url=url, include_comments=False, deduplicate=False, with_metadata=with_metadata
        )
    except Exception as exc:  # trafilatura raises assorted lxml errors on broken markup
        log.debug("trafilatura failed on %s: %s", url, exc)
        return "", None
    if doc is None or isinstance(doc, dict):
        return "", None
    return clean_text(doc.text), doc


def _readability(html: str) -> str:
    try:
        summary = ReadabilityDocument(html).summary(html_partial=True)
    except Exception:  # readability raises on empty or non-HTML documents
        return ""
    return _paragraph_text(BeautifulSoup(summary, "lxml"))


def _paragraph_text(soup: BeautifulSoup) -> str:
    for junk in soup(["script", "style", "noscript", "template"]):
        junk.decompose()
    scope = soup.find("article") or soup.body or soup
    blocks = [p.get_text(" ", strip=True) for p in scope.find_all(["p", "h2", "h3", "li"])]
    return clean_text("\n".join(b for b in blocks if len(b.split()) >= 4))


def extract_article(html: str, url: str | None = None) -> Article:
    """Extract one article; never raises on bad markup (an empty text means nothing found)."""
    html = strip_control(html)
    if not html.strip():
        return Article(url=url, title=None, text="", problem="empty page")
    tags = html.count("<")
    if tags > MAX_MARKUP_TAGS:
        return Article(url=url, title=None, text="",
                       problem=f"page too large to extract ({tags} tags, limit {MAX_MARKUP_TAGS})")
    soup = BeautifulSoup(html, "lxml")
    meta: PageMetadata = read_metadata(soup, url)

    # trafilatura's own metadata pass costs ~30 % of its run time; it is only needed when the
    # markup did not state the title, date or authors.
    needs_metadata = not (meta.title and meta.published and meta.authors)
    text, doc = _trafilatura(html, url, with_metadata=needs_metadata)
    extractor = "trafilatura"
    if len(text.split()) < MIN_ARTICLE_WORDS:
        for name, candidate in (("readability", _readability(html)), ("paragraphs", None)):
            if candidate is None:
                candidate = _paragraph_text(soup)
            if len(candidate.split()) > len(text.split()):
                text, extractor = candidate, name
            if len(text.split()) >= MIN_ARTICLE_WORDS:
                break
    if not text:
        extractor = "none"

    origins = dict(meta.origins)
    title = meta.title
    if doc is not None and doc.title and origins.get("title") in (None, "title"):
        title, origins["title"] = doc.title, "trafilatura"
    authors = meta.authors
    if not authors and doc is not None and doc.author:
        authors = [a.strip() for a in doc.author.split(";") if a.strip()]
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
