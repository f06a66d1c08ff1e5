"""The normalised item: what every spider produces and storage keeps, one per article."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from storywatch.normalise.dates import iso, to_utc, utc_now
from storywatch.normalise.language import detect_language
from storywatch.normalise.segment import word_count
from storywatch.normalise.text import clean_text, content_hash
from storywatch.normalise.urls import canonical_url

if TYPE_CHECKING:
    from storywatch.extraction.article import Article


# A page text this short is a teaser, a paywall stub or navigation left-overs.
SHORT_TEXT_WORDS = 40


@dataclass
class NewsItem:
    url: str
    canonical_url: str
    title: str | None
    authors: list[str]
    published_at: datetime | None
    fetched_at: datetime
    language: str | None
    text: str
    source: str
    discovered_via: str
    content_hash: str
    word_count: int
    extractor: str = "none"
    aliases: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["published_at"] = iso(self.published_at)
        data["fetched_at"] = iso(self.fetched_at)
        return data


@dataclass
class FeedHints:
    """What the listing (feed entry, sitemap entry) said about the article, as a fallback."""

    title: str | None = None
    summary: str | None = None
    published: str | datetime | None = None
    authors: list[str] = field(default_factory=list)
    language: str | None = None


def normalise_article(
    article: Article,
    *,
    url: str,
    source: str,
    discovered_via: str,
    hints: FeedHints | None = None,
    requested_url: str | None = None,
    fetched_at: datetime | None = None,
) -> NewsItem:
    """Merge page and listing into one item; the page wins, the listing fills its gaps."""
    hints = hints or FeedHints()
    text = article.text
    extractor = article.extractor
    if hints.summary and word_count(text) < SHORT_TEXT_WORDS:
        summary = clean_text(_strip_tags(hints.summary))
        if word_count(summary) > word_count(text):  # a teaser page: the listing said more
            text, extractor = summary, "feed-summary"
    title = article.title or clean_text(hints.title) or None
    authors = article.authors or hints.authors
    if title and text.split("\n", 1)[0].strip() == title:
        text = text.split("\n", 1)[1] if "\n" in text else ""  # the headline is not body text
    text = _without_byline(text, authors)
    canonical = canonical_url(url, article.canonical_url)
    aliases = {canonical_url(url)}
    if requested_url:
        aliases.add(canonical_url(requested_url))
    aliases.discard(canonical)
    return NewsItem(
        url=url,
        canonical_url=canonical,
        title=title,
        authors=authors,
        published_at=article.published_at or to_utc(hints.published),
        fetched_at=fetched_at or utc_now(),
        language=detect_language(text, article.language or hints.language),
        text=text,
        source=source,
        discovered_via=discovered_via,
        content_hash=content_hash(text),
        word_count=word_count(text),
        extractor=extractor,
        aliases=sorted(aliases),
    )


# A byline is short: "Published 10 February 2025, 09:00 by Anna Petrova."
_BYLINE_MAX_WORDS = 25


def _without_byline(text: str, authors: list[str]) -> str:
    """Drop a first line that names the article's own author: a byline, not body text."""
    first, _, rest = text.partition("\n")
    if rest and word_count(first) <= _BYLINE_MAX_WORDS and any(
        author and author in first for author in authors
    ):
        return rest
    return text


def _strip_tags(html: str) -> str:
    from bs4 import BeautifulSoup

    return BeautifulSoup(html, "lxml").get_text("\n") if "<" in html else html
