"""A fetched seed page as the seed_pages table keeps it, and the error a seed raises.

Apart from classify/seeds.py so that the seed spider (spiders/seeds.py), which
classify/seeds.py starts in a child process, can build the row without importing it.
"""

from __future__ import annotations

from storywatch.normalise.dates import utc_now
from storywatch.normalise.language import detect_language
from storywatch.normalise.urls import canonical_url
from storywatch.storage.classify import SeedPage


class SeedError(Exception):
    """A seed that cannot be read; the message names it and says why."""


def seed_page_from_html(ref: str, html: str) -> SeedPage:
    """The row kept for a fetched seed URL; SeedError when the page holds no article."""
    # Deferred: trafilatura and its parsers (8 MB, 0.2 s) are needed only for seed pages,
    # not in the process that judges a crawl's items.
    from storywatch.extraction import extract_article

    article = extract_article(html, ref)
    if not article.text.strip():
        raise SeedError(f"seed {ref}: no article text found on the page")
    return SeedPage(
        url=canonical_url(ref), title=article.title, text=article.text,
        language=detect_language(article.text, article.language), fetched_at=utc_now(),
        published_at=article.published_at,
    )
