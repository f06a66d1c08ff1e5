"""Page metadata from the markup itself (BeautifulSoup), for what the text extractor misses.

trafilatura returns publication *dates* without a time and sometimes no author; news pages
state both precisely in og:/article: meta tags, JSON-LD and <time> elements. These readers
are tried in order of reliability, and each reports its origin so explanations can say
where a field came from.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

from bs4 import BeautifulSoup, Tag


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


def _meta(soup: BeautifulSoup, *keys: str) -> tuple[str | None, str | None]:
    for key in keys:
        tag = soup.find("meta", attrs={"property": key}) or soup.find("meta", attrs={"name": key})
        if isinstance(tag, Tag):
            content = tag.get("content")
            if isinstance(content, str) and content.strip():
                return content.strip(), f"meta[{key}]"
    return None, None


def _json_ld_articles(soup: BeautifulSoup) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for script in soup.find_all("script", attrs={"type": "application/ld+json"}):
        try:
            data = json.loads(script.get_text() or "null")
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
                kind = node.get("@type")
                kinds = kind if isinstance(kind, list) else [kind]
                if any(isinstance(k, str) and k.endswith("Article") for k in kinds):
                    found.append(node)
    return found


def _names(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return _names(value.get("name"))
    if isinstance(value, list):
        return [name for item in value for name in _names(item)]
    return []


def _link(soup: BeautifulSoup, rel: str, base: str | None) -> str | None:
    for tag in soup.find_all("link", href=True):
        rels = tag.get("rel") or []
        if rel in [r.lower() for r in rels]:
            href = str(tag["href"]).strip()
            return urljoin(base, href) if base else href
    return None


def read_metadata(soup: BeautifulSoup, url: str | None = None) -> PageMetadata:
    meta = PageMetadata()
    articles = _json_ld_articles(soup)
    ld = articles[0] if articles else {}
    meta.has_article_markup = bool(articles) or bool(soup.find("article"))

    title, origin = _meta(soup, "og:title", "twitter:title")
    if not title and isinstance(ld.get("headline"), str):
        title, origin = ld["headline"], "json-ld"
    if not title and (h1 := soup.find("h1")):
        title, origin = h1.get_text(" ", strip=True), "h1"
    if not title and soup.title:
        title, origin = soup.title.get_text(" ", strip=True), "title"
    meta.title = title or None
    if origin:
        meta.origins["title"] = origin

    published, origin = _meta(
        soup, "article:published_time", "og:article:published_time", "datePublished",
        "pubdate", "publishdate", "dc.date.issued", "date",
    )
    if not published and isinstance(ld.get("datePublished"), str):
        published, origin = ld["datePublished"], "json-ld"
    if not published:
        tag = soup.find(attrs={"itemprop": "datePublished"})
        if isinstance(tag, Tag):
            value = tag.get("datetime") or tag.get("content")
            published, origin = (str(value), "itemprop") if value else (None, None)
    if not published:
        tag = soup.find("time", attrs={"datetime": True})
        if isinstance(tag, Tag):
            published, origin = str(tag["datetime"]), "time[datetime]"
    meta.published = published
    if origin and published:
        meta.origins["published"] = origin

    authors = _names(ld.get("author"))
    if authors:
        meta.origins["authors"] = "json-ld"
    else:
        for key in ("author", "article:author", "dc.creator", "byl"):
            for tag in soup.find_all("meta", attrs={"name": key}) + soup.find_all(
                "meta", attrs={"property": key}
            ):
                content = str(tag.get("content") or "").strip()
                if content and not content.startswith("http"):
                    authors.append(content.removeprefix("By ").removeprefix("by "))
            if authors:
                meta.origins["authors"] = f"meta[{key}]"
                break
    if not authors:
        for tag in soup.select('[rel~="author"], [itemprop="author"], .byline .author'):
            name = tag.get_text(" ", strip=True)
            if name and len(name) < 80:
                authors.append(name)
        if authors:
            meta.origins["authors"] = "byline"
    meta.authors = list(dict.fromkeys(a.strip() for a in authors if a.strip()))

    meta.canonical = _link(soup, "canonical", url)
    if meta.canonical:
        meta.origins["canonical"] = "link[rel=canonical]"
    else:
        og_url, _ = _meta(soup, "og:url")
        if og_url:
            meta.canonical = urljoin(url, og_url) if url else og_url
            meta.origins["canonical"] = "meta[og:url]"
    meta.amphtml = _link(soup, "amphtml", url)

    html_tag = soup.find("html")
    lang = html_tag.get("lang") if isinstance(html_tag, Tag) else None
    if not lang:
        lang, _ = _meta(soup, "og:locale", "content-language", "language")
    if not lang:
        tag = soup.find(
            "meta", attrs={"http-equiv": lambda v: bool(v) and v.lower() == "content-language"}
        )
        lang = tag.get("content") if isinstance(tag, Tag) else None
    meta.language = str(lang) if lang else None

    meta.page_type, _ = _meta(soup, "og:type")
    meta.description, _ = _meta(soup, "og:description", "description", "twitter:description")
    meta.site_name, _ = _meta(soup, "og:site_name", "application-name")
    return meta
