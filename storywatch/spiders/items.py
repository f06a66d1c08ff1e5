"""Scrapy items: the raw page a spider hands to the pipelines."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from storywatch.normalise.item import FeedHints


@dataclass
class RawArticle:
    """A downloaded article page, before extraction; `hints` come from its listing.

    The page as downloaded, bytes and Content-Type header: the extraction worker decodes
    it (extraction.encoding), so that the crawl process holds no decoded copy of it."""

    url: str
    requested_url: str
    body: bytes
    content_type: str | None
    source: str
    discovered_via: str
    fetched_at: datetime
    hints: FeedHints = field(default_factory=FeedHints)
