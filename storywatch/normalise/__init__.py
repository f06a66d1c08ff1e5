"""Normalise: one canonical form for URLs, dates, text and language, shared by every spider.

The normalised item itself is `storywatch.normalise.item.NewsItem`.

Comparing, deduplicating and storing all rely on these forms, so they live in one place.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from storywatch.normalise.dates import to_utc
    from storywatch.normalise.language import detect_language
    from storywatch.normalise.text import clean_text, content_hash
    from storywatch.normalise.urls import canonical_url, is_same_site

# Imported on first use: a command that needs only dates must not load courlan or py3langid.
_WHERE = {"to_utc": "dates", "detect_language": "language", "clean_text": "text",
          "content_hash": "text", "canonical_url": "urls", "is_same_site": "urls"}

__all__ = [
    "canonical_url",
    "clean_text",
    "content_hash",
    "detect_language",
    "is_same_site",
    "to_utc",
]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(f"storywatch.normalise.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
