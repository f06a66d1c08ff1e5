"""Scrapy items: the raw page a spider hands to the pipelines."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from storywatch.normalise.item import FeedHints


@dataclass
class RawArticle:
    """A downloaded article page, before extraction; `hints` come from its listing."""

    url: str
    requested_url: str
    html: str
    source: str
    discovered_via: str
    fetched_at: datetime
    hints: FeedHints = field(default_factory=FeedHints)
