"""Telling article pages from navigation, section, tag and static pages; finding links.

A `site` source starts from a homepage or section page and must store only articles. Two
decisions are made here: before a download, from the URL alone (`url_kind`), which links
are worth a request; after a download, from the page (`analyse_page`), whether it is an
article. Both are heuristics over the signals news sites actually give (og:type, JSON-LD
@type, article:published_time, one <article>, a run of body paragraphs, dated slug URLs),
scored so that no single missing signal decides. BeautifulSoup (with lxml) reads the page
because real pages are rarely well-formed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

from bs4 import BeautifulSoup, Tag
from courlan.filters import extension_filter, is_navigation_page, is_not_crawlable

from storywatch.extraction.metadata import JSON_LD, HeadIndex, json_ld_nodes, json_ld_types
from storywatch.normalise.segment import word_count
from storywatch.normalise.urls import canonical_url, is_same_site

# What courlan already knows is asked from courlan (`url_kind`): web-page extensions, its
# navigation filter (tag, category, author, archives, page, topic, user and their German
# forms) and pages that are never worth crawling (contact, imprint, login, privacy notice).
# Below is only what it does not cover.
# First path segments of navigation pages courlan's filter does not match.
_LISTING_SEGMENTS = {
    "section", "sections", "categories", "theme", "themes", "authors", "search", "archive",
    "rubrik", "rubrique", "thema", "themen", "people", "profile", "series", "live",
}
# Static pages every site has, by their usual slugs (several languages), beyond courlan's.
_STATIC_SLUGS = {
    "about", "about-us", "contact-us", "privacy", "privacy-policy", "terms",
    "terms-of-use", "legal", "mentions-legales", "cookies",
    "cookie-policy", "newsletter", "newsletters", "subscribe", "subscription",
    "register", "account", "help", "faq", "advertise", "careers", "jobs", "sitemap",
    "datenschutz", "contacts", "accessibility", "corrections",
}
# Extensions courlan counts as web pages that are feeds or sitemaps here, never articles.
_LISTING_DOCUMENTS = (".xml", ".rss", ".atom", ".rdf", ".txt", ".json")
_DATE_IN_PATH = re.compile(r"/(19|20)\d{2}[/-](0?[1-9]|1[0-2])([/-]|$)|/(19|20)\d{6}/")
_PAGINATION = re.compile(r"/page/\d+/?$|[?&](page|p|pg)=\d+", re.IGNORECASE)
_LONG_ID = re.compile(r"\d{5,}")
_NEXT_WORDS = re.compile(
    r"\b(older|next|more stories|load more|suivant|suivante|plus anciens|weiter|ältere|nächste"
    r"|следующая|ранее|далее)\b|›|»|→",
    re.IGNORECASE,
)
_ARTICLE_TYPES = {
    "article", "newsarticle", "reportagenewsarticle", "analysisnewsarticle", "blogposting",
    "opinionnewsarticle", "reviewnewsarticle", "backgroundnewsarticle", "report",
}
# og:type "news" is not in the Open Graph spec, but Chinese news sites use it for article
# pages (banyuetan.org in trafilatura's evaluation pages: benchmarks/spaceless_real.py).
_ARTICLE_OG_TYPES = {"article", "news"}
_LISTING_TYPES = {"collectionpage", "website", "webpage", "itemlist", "aboutpage",
                  "contactpage", "searchresultspage", "profilepage"}
_SKIPPED_CONTAINERS = {"nav", "header", "footer", "aside", "form"}
_CHROME = {"nav", "header", "footer"}

# Words in the longest run of sibling paragraphs. Demo world: the shortest article body
# has 99 words, listings 17 and the about page 51; real briefs start around 80 words.
BODY_WORDS = 80
# Below this there is no article to store, whatever the metadata claims.
MIN_ARTICLE_WORDS = 40
# Score at which a page counts as an article; see `analyse_page` for the points.
ARTICLE_SCORE = 2


def url_kind(url: str) -> str:
    """"article", "listing", "static", "asset" or "unknown", from the URL alone."""
    parts = urlsplit(url)
    path = parts.path or "/"
    lower = path.lower()
    if lower.endswith(_LISTING_DOCUMENTS) or not extension_filter(lower):
        return "asset"
    segments = [s for s in lower.split("/") if s]
    if not segments or _PAGINATION.search(path + ("?" + parts.query if parts.query else "")):
        return "listing"
    last = re.sub(r"\.(html?|php|aspx?)$", "", segments[-1])
    if is_not_crawlable(lower) or last in _STATIC_SLUGS or (
            len(segments) == 1 and segments[0] in _STATIC_SLUGS):
        return "static"
    # courlan's filter on the folders only: on the whole path it also takes article slugs
    # ending in -page/, -cat/ or -user/ for navigation.
    if segments[0] in _LISTING_SEGMENTS or is_navigation_page(
            "/" + "".join(f"{s}/" for s in segments[:-1])):
        return "listing"
    if _DATE_IN_PATH.search(lower) and len(segments) >= 3:
        return "article"
    if last.count("-") >= 2 or _LONG_ID.search(last):
        return "article"
    if len(segments) == 1 and not lower.endswith((".html", ".htm")):
        return "listing"  # /world/, /sport: a section at the top level
    return "unknown"


@dataclass
class PageAnalysis:
    is_article: bool
    kind: str  # "article", "listing" or "static"
    reason: str
    score: int
    body_words: int
    canonical: str | None = None
    amphtml: str | None = None
    article_links: list[str] = field(default_factory=list)
    next_pages: list[str] = field(default_factory=list)


class _Tags:
    """Every element of the page by tag name, from one walk of the tree.

    One walk instead of a find_all per question keeps the analysis at a few ms a page; it
    runs for every page a sitemap or site source fetches.
    """

    def __init__(self, soup: BeautifulSoup) -> None:
        self.by_name: dict[str, list[Tag]] = {}
        for tag in soup.find_all(True):
            self.by_name.setdefault(tag.name, []).append(tag)

    def __call__(self, *names: str) -> list[Tag]:
        if len(names) == 1:
            return self.by_name.get(names[0], [])
        return [tag for name in names for tag in self.by_name.get(name, [])]


def _meta(head: HeadIndex, key: str) -> str | None:
    value, _origin = head.first(key)
    return value.lower() if value else None


def _json_ld_types(tags: _Tags) -> set[str]:
    scripts = [t.get_text() for t in tags("script") if t.get("type") == JSON_LD]
    return {kind.lower() for node in json_ld_nodes(scripts) for kind in json_ld_types(node)}


def _has_ancestor(tag: Tag, names: set[str]) -> bool:
    parent = tag.parent
    while parent is not None:
        if parent.name in names:
            return True
        parent = parent.parent
    return False


def _body_words(tags: _Tags) -> int:
    """Words of the longest run of sibling <p>: an article body, not a list of teasers."""
    per_parent: dict[int, int] = {}
    skipped = _SKIPPED_CONTAINERS | {"li"}
    for p in tags("p"):
        if p.parent is None or _has_ancestor(p, skipped):
            continue
        words = word_count(p.get_text(" ", strip=True))
        per_parent[id(p.parent)] = per_parent.get(id(p.parent), 0) + words
    return max(per_parent.values(), default=0)


def analyse_page(html: str | bytes, url: str) -> PageAnalysis:
    """Decide whether a fetched page is an article, and collect the links worth following.

    Points: og:type article +2 (another og:type -2); JSON-LD article type +2 (a collection
    or plain web page type -1); article:published_time +1; exactly one <article> +1 (three
    or more, i.e. teaser cards, -1); exactly one <h1> +1; a body of BODY_WORDS +1 (under
    MIN_ARTICLE_WORDS -2); the URL looks like an article +1, like a listing or static page
    -2. A page needs ARTICLE_SCORE points *and* MIN_ARTICLE_WORDS words of body.
    """
    tags = _Tags(BeautifulSoup(html, "lxml"))
    head = HeadIndex((tag.name, tag.attrs) for tag in tags("meta", "link"))
    score = 0
    signals: list[str] = []

    og_type = _meta(head, "og:type")
    if og_type in _ARTICLE_OG_TYPES:
        score += 2
        signals.append(f"og:type={og_type}")
    elif og_type:
        score -= 2
        signals.append(f"og:type={og_type}")
    types = _json_ld_types(tags)
    if types & _ARTICLE_TYPES:
        score += 2
        signals.append("JSON-LD article")
    elif types & _LISTING_TYPES:
        score -= 1
        signals.append("JSON-LD page")
    if _meta(head, "article:published_time"):
        score += 1
        signals.append("published_time")
    articles = len(tags("article"))
    if articles == 1:
        score += 1
        signals.append("one <article>")
    elif articles >= 3:
        score -= 1
        signals.append(f"{articles} <article>")
    if len(tags("h1")) == 1:
        score += 1
        signals.append("one <h1>")
    words = _body_words(tags)
    if words >= BODY_WORDS:
        score += 1
        signals.append(f"{words} body words")
    elif words < MIN_ARTICLE_WORDS:
        score -= 2
        signals.append(f"only {words} body words")
    kind_by_url = url_kind(url)
    if kind_by_url == "article":
        score += 1
        signals.append("article URL")
    elif kind_by_url in ("listing", "static"):
        score -= 2
        signals.append(f"{kind_by_url} URL")

    is_article = score >= ARTICLE_SCORE and words >= MIN_ARTICLE_WORDS
    if is_article:
        kind = "article"
    else:
        kind = "static" if kind_by_url == "static" or not _teaser_count(tags) else "listing"
    canonical = head.link("canonical", url)
    amphtml = head.link("amphtml", url)
    article_links, next_pages = _links(tags, head, url)
    return PageAnalysis(
        is_article=is_article,
        kind=kind,
        reason=", ".join(signals) or "no signals",
        score=score,
        body_words=words,
        canonical=canonical,
        amphtml=amphtml,
        article_links=article_links,
        next_pages=next_pages,
    )


def _teaser_count(tags: _Tags) -> int:
    return sum(1 for h in tags("h2", "h3") if h.find("a", href=True))


def _links(tags: _Tags, head: HeadIndex, page_url: str) -> tuple[list[str], list[str]]:
    """Same-site links that may be articles (canonical form) and "next/older" pages."""
    base_tag = tags("base")
    base_href = base_tag[0].get("href") if base_tag else None
    base = urljoin(page_url, base_href) if isinstance(base_href, str) else page_url
    here = _canonical_or_none(page_url)
    articles: dict[str, None] = {}
    next_pages: dict[str, None] = {}
    rel_next = head.link("next", base)
    if rel_next:
        next_pages[rel_next] = None
    for anchor in tags("a"):
        href = str(anchor.get("href") or "").strip()
        if not href or href.startswith(("#", "mailto:", "javascript:", "tel:")):
            continue
        absolute = urljoin(base, href)
        if not is_same_site(absolute, page_url):
            continue
        rels = [r.lower() for r in anchor.get("rel") or []]
        label = " ".join([anchor.get_text(" ", strip=True), *(anchor.get("class") or [])])
        if "next" in rels or (_NEXT_WORDS.search(label) and url_kind(absolute) == "listing"):
            next_pages[absolute] = None
            continue
        if _has_ancestor(anchor, _CHROME):
            continue
        canonical = _canonical_or_none(absolute)
        if canonical is None or canonical == here:
            continue
        if url_kind(canonical) in ("article", "unknown"):
            articles[canonical] = None
    return list(articles), [u for u in next_pages if _canonical_or_none(u) != here]


def _canonical_or_none(url: str) -> str | None:
    try:
        return canonical_url(url)
    except ValueError:
        return None
