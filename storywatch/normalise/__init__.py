"""Normalise: one canonical form for URLs, dates, text and language, shared by every spider.

The normalised item itself is `storywatch.normalise.item.NewsItem`.

Comparing, deduplicating and storing all rely on these forms, so they live in one place.
"""

from storywatch.normalise.dates import to_utc
from storywatch.normalise.language import detect_language
from storywatch.normalise.text import clean_text, content_hash
from storywatch.normalise.urls import canonical_url, is_same_site

__all__ = [
    "canonical_url",
    "clean_text",
    "content_hash",
    "detect_language",
    "is_same_site",
    "to_utc",
]
