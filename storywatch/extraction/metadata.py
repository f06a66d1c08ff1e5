"""Page metadata from the markup itself, for what the text extractor misses.

trafilatura returns publication *dates* without a time and sometimes no author; news pages
state both precisely in og:/article: meta tags, JSON-LD and <time> elements. These readers
are tried in order of reliability, and each reports its origin so explanations can say
where a field came from.

They read the same lxml tree that trafilatura then extracts from, so a page is parsed
once (BeautifulSoup's tree cost more than trafilatura's whole extraction on real pages:
benchmarks/extraction_real.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

from lxml import etree
from lxml.html import HtmlElement


@dataclass
class PageMetadata:
    title: str | None = None
    authors: list[str] = field(default_factory=list)
    published: str | None = None
    canonical: str | None = None
    amphtml: str | None = None
    language: str | None = None
    page_type: str | None = None
    description: str | None = None
    site_name: str | None = None
    has_article_markup: bool = False
    origins: dict[str, str] = field(default_factory=dict)


# Compiled once: extraction is on the crawl's hot path.
_HEAD = etree.XPath("//meta | //link")
_JSON_LD = etree.XPath('//script[@type="application/ld+json"]')
_ITEMPROP_PUBLISHED = etree.XPath('(//*[@itemprop="datePublished"])[1]')


def _class_or_rel(attr: str, word: str) -> str:
    """Elements whose class (or rel) list holds the word. A plain `contains` first: it is
    implied by the token test and cheap, so the costly string building of the token
    test runs on the few elements that pass it (byline search 1.09 -> 0.62 ms a page on
    trafilatura's evaluation pages, the same elements on all 990)."""
    return (f"[contains(@{attr}, '{word}')]"
            f"[contains(concat(' ', normalize-space(@{attr}), ' '), ' {word} ')]")


_BYLINES = etree.XPath(
    f"//*{_class_or_rel('rel', 'author')}"
    " | //*[@itemprop='author']"
    f" | //*{_class_or_rel('class', 'byline')}//*{_class_or_rel('class', 'author')}"
)


def _text(element: HtmlElement) -> str:
    """Its text, stripped pieces joined by one space (as bs4's get_text(" ", strip=True))."""
    return " ".join(piece.strip() for piece in element.itertext() if piece.strip())


def _first(xpath: etree.XPath, tree: HtmlElement) -> HtmlElement | None:
    found = xpath(tree)
    return found[0] if found else None


def _first_tag(tree: HtmlElement, tag: str, attribute: str | None = None
               ) -> HtmlElement | None:
    """The first element of that name (with that attribute) in document order: what
    `(//tag[@attribute])[1]` gives, but lxml's walk stops at it, where the XPath
    collects every match first."""
    return next((e for e in tree.iter(tag) if attribute is None or attribute in e.attrib),
                None)


class HeadIndex:
    """Every <meta> and <link> of the page, indexed in one pass.

    A page has dozens of meta tags and each field tries several keys; one pass plus dict
    look-ups is faster than a tree search per key. Built from (tag name, attributes)
    pairs so that both readers of a page share it: extraction walks its lxml tree
    (`of_tree`), page analysis in discovery/pages.py its BeautifulSoup tags (where `rel`
    is a list, not a string).
    """

    def __init__(self, tags: Iterable[tuple[str, Mapping[str, Any]]]) -> None:
        self.meta: dict[str, list[str]] = {}
        self.links: dict[str, list[str]] = {}
        for name, attrs in tags:
            if name == "meta":
                content = attrs.get("content")
                if not isinstance(content, str) or not content.strip():
                    continue
                for attr in ("property", "name", "itemprop", "http-equiv"):
                    key = attrs.get(attr)
                    if isinstance(key, str):
                        self.meta.setdefault(key.strip().lower(), []).append(content.strip())
            elif name == "link":
                href = attrs.get("href")
                rels = attrs.get("rel") or ()
                if isinstance(rels, str):
                    rels = rels.split()
                if isinstance(href, str) and href.strip():
                    for rel in rels:
                        self.links.setdefault(rel.lower(), []).append(href.strip())

    @classmethod
    def of_tree(cls, tree: HtmlElement) -> HeadIndex:
        return cls((str(tag.tag), tag.attrib) for tag in _HEAD(tree))

    def first(self, *keys: str) -> tuple[str | None, str | None]:
        for key in keys:
            if values := self.meta.get(key):
                return values[0], f"meta[{key}]"
        return None, None

    def link(self, rel: str, base: str | None) -> str | None:
        hrefs = self.links.get(rel)
        if not hrefs:
            return None
        return urljoin(base, hrefs[0]) if base else hrefs[0]


JSON_LD = "application/ld+json"


def json_ld_nodes(texts: Iterable[str | None]) -> list[dict[str, Any]]:
    """Every JSON-LD object in the texts of the page's ld+json scripts, @graph members
    included."""
    found: list[dict[str, Any]] = []
    for text in texts:
        try:
            data = json.loads(text or "null")
        except ValueError:
            continue
        stack = data if isinstance(data, list) else [data]
        while stack:
            node = stack.pop()
            if isinstance(node, list):
                stack.extend(node)
            elif isinstance(node, dict):
                if "@graph" in node:
                    stack.extend(node["@graph"] if isinstance(node["@graph"], list) else [])
                found.append(node)
    return found


def json_ld_types(node: dict[str, Any]) -> list[str]:
    """A JSON-LD object's @type values (one or a list)."""
    kind = node.get("@type")
    return [k for k in (kind if isinstance(kind, list) else [kind]) if isinstance(k, str)]


def _json_ld_articles(tree: HtmlElement) -> list[dict[str, Any]]:
    return [node for node in json_ld_nodes(script.text for script in _JSON_LD(tree))
            if any(k.endswith("Article") for k in json_ld_types(node))]


def _names(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return _names(value.get("name"))
    if isinstance(value, list):
        return [name for item in value for name in _names(item)]
    return []


def read_metadata(tree: HtmlElement, url: str | None = None) -> PageMetadata:
    """Read the page's metadata; the tree is not changed (trafilatura reads it next)."""
    meta = PageMetadata()
    head = HeadIndex.of_tree(tree)
    articles = _json_ld_articles(tree)
    ld = articles[0] if articles else {}
    meta.has_article_markup = bool(articles) or _first_tag(tree, "article") is not None

    title, origin = head.first("og:title", "twitter:title")
    if not title and isinstance(ld.get("headline"), str):
        title, origin = ld["headline"], "json-ld"
    if not title and (h1 := _first_tag(tree, "h1")) is not None:
        title, origin = _text(h1), "h1"
    if not title and (title_tag := _first_tag(tree, "title")) is not None:
        title, origin = _text(title_tag), "title"
    meta.title = title or None
    if origin:
        meta.origins["title"] = origin

    published, origin = head.first(
        "article:published_time", "og:article:published_time", "datePublished",
        "pubdate", "publishdate", "dc.date.issued", "date",
    )
    if not published and isinstance(ld.get("datePublished"), str):
        published, origin = ld["datePublished"], "json-ld"
    if not published and (tag := _first(_ITEMPROP_PUBLISHED, tree)) is not None:
        value = tag.get("datetime") or tag.get("content")
        published, origin = (str(value), "itemprop") if value else (None, None)
    if not published and (tag := _first_tag(tree, "time", "datetime")) is not None:
        published, origin = str(tag.get("datetime")), "time[datetime]"
    meta.published = published
    if origin and published:
        meta.origins["published"] = origin

    authors = _names(ld.get("author"))
    if authors:
        meta.origins["authors"] = "json-ld"
    else:
        for key in ("author", "article:author", "dc.creator", "byl"):
            for content in head.meta.get(key, []):
                if not content.startswith("http"):
                    authors.append(content.removeprefix("By ").removeprefix("by "))
            if authors:
                meta.origins["authors"] = f"meta[{key}]"
                break
    if not authors:
        for tag in _BYLINES(tree):
            name = _text(tag)
            if name and len(name) < 80:
                authors.append(name)
        if authors:
            meta.origins["authors"] = "byline"
    meta.authors = list(dict.fromkeys(a.strip() for a in authors if a.strip()))

    meta.canonical = head.link("canonical", url)
    if meta.canonical:
        meta.origins["canonical"] = "link[rel=canonical]"
    else:
        og_url, _ = head.first("og:url")
        if og_url:
            meta.canonical = urljoin(url, og_url) if url else og_url
            meta.origins["canonical"] = "meta[og:url]"
    meta.amphtml = head.link("amphtml", url)

    root = tree.getroottree().getroot()
    lang = root.get("lang") if root.tag == "html" else None
    if not lang:
        lang, _ = head.first("og:locale", "content-language", "language")
    meta.language = str(lang) if lang else None

    meta.page_type, _ = head.first("og:type")
    meta.description, _ = head.first("og:description", "description", "twitter:description")
    meta.site_name, _ = head.first("og:site_name", "application-name")
    return meta
