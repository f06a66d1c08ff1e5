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

import json
import re
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

from bs4 import BeautifulSoup, Tag

from storywatch.normalise.urls import canonical_url, is_same_site

# First path segments of navigation pages on news sites (sections, tags, authors, archives).
_LISTING_SEGMENTS = {
    "section", "sections", "category", "categories", "tag", "tags", "topic", "topics",
    "theme", "themes", "author", "authors", "page", "search", "archive", "archives", "rubrik",
    "rubrique", "thema", "themen", "people", "profile", "series", "live",
}
# Static pages every site has, by their usual slugs (several languages).
_STATIC_SLUGS = {
    "about", "about-us", "contact", "contact-us", "privacy", "privacy-policy", "terms",
    "terms-of-use", "imprint", "impressum", "legal", "mentions-legales", "cookies",
    "cookie-policy", "newsletter", "newsletters", "subscribe", "subscription", "login",
    "register", "account", "help", "faq", "advertise", "careers", "jobs", "sitemap",
    "datenschutz", "kontakt", "contacts", "accessibility", "corrections",
}
_ASSET_EXTENSIONS = (
    ".css", ".js", ".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp", ".ico", ".pdf", ".zip",
    ".gz", ".mp3", ".mp4", ".webm", ".xml", ".rss", ".atom", ".rdf", ".json", ".txt", ".woff",
    ".woff2", ".ttf", ".doc", ".docx", ".xls", ".xlsx", ".epub",
)
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
    if lower.endswith(_ASSET_EXTENSIONS):
        return "asset"
    segments = [s for s in lower.split("/") if s]
    if not segments or _PAGINATION.search(path + ("?" + parts.query if parts.query else "")):
        return "listing"
    last = re.sub(r"\.(html?|php|aspx?)$", "", segments[-1])
    if last in _STATIC_SLUGS or (len(segments) == 1 and segments[0] in _STATIC_SLUGS):
        return "static"
    if segments[0] in _LISTING_SEGMENTS:
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


def _meta(tags: _Tags, key: str) -> str | None:
    for tag in tags("meta"):
        if tag.get("property") == key or tag.get("name") == key:
            content = tag.get("content")
            if isinstance(content, str) and content.strip():
                return content.strip().lower()
    return None


def _link_href(tags: _Tags, rel: str, base: str) -> str | None:
    for tag in tags("link"):
        href = tag.get("href")
        if isinstance(href, str) and rel in [r.lower() for r in tag.get("rel") or []]:
            return urljoin(base, href.strip())
    return None


def _json_ld_types(tags: _Tags) -> set[str]:
    types: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, list):
            for child in node:
                walk(child)
        elif isinstance(node, dict):
            value = node.get("@type")
            for t in value if isinstance(value, list) else [value]:
                if isinstance(t, str):
                    types.add(t.lower())
            walk(node.get("@graph"))

    for script in tags("script"):
        if script.get("type") != "application/ld+json":
            continue
        try:
            walk(json.loads(script.get_text() or "null"))
        except ValueError:
            continue
    return types


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
        words = len(p.get_text(" ", strip=True).split())
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
    score = 0
    signals: list[str] = []

    og_type = _meta(tags, "og:type")
    if og_type == "article":
        score += 2
        signals.append("og:type=article")
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
    if _meta(tags, "article:published_time"):
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
    canonical = _link_href(tags, "canonical", url)
    amphtml = _link_href(tags, "amphtml", url)
    article_links, next_pages = _links(tags, url)
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


def _links(tags: _Tags, page_url: str) -> tuple[list[str], list[str]]:
    """Same-site links that may be articles (canonical form) and "next/older" pages."""
    base_tag = tags("base")
    base_href = base_tag[0].get("href") if base_tag else None
    base = urljoin(page_url, base_href) if isinstance(base_href, str) else page_url
    here = _canonical_or_none(page_url)
    articles: dict[str, None] = {}
    next_pages: dict[str, None] = {}
    rel_next = _link_href(tags, "next", base)
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
