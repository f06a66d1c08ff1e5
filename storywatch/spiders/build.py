"""Extract and normalise one downloaded page: the work the crawl's worker processes do.

In a module of its own, importing only extraction and normalisation: a worker process
imports this module to run `build_item`, and pulling in Scrapy, Twisted and SQLAlchemy
(as the pipelines module does) cost each worker ~55 MB for nothing. The other way round,
the crawl process imports it for the pipelines, and it has no use for the extractor (the
workers run it): `extract_article` is imported on the first call, which the workers'
preload makes before they fork.
"""

from __future__ import annotations

import time

from storywatch.normalise.item import NewsItem, normalise_article
from storywatch.spiders.items import RawArticle


def build_item(raw: RawArticle) -> tuple[NewsItem, str | None, float]:
    """Extract and normalise one page: the item, the extractor's refusal reason if it
    refused, and the CPU seconds it took (the crawl's time breakdown)."""
    # From the modules themselves, not through the package's lazy attribute (a call
    # of its __getattr__ per article); the workers' preload imported them before the fork.
    from storywatch.extraction.article import extract_article
    from storywatch.extraction.encoding import decode_page, page_encoding

    started = time.process_time()
    html = decode_page(raw.body, page_encoding(raw.body, raw.content_type))
    article = extract_article(html, raw.url, listing_date=bool(raw.hints.published),
                              listing_authors=bool(raw.hints.authors))
    news = normalise_article(
        article,
        url=raw.url,
        requested_url=raw.requested_url,
        source=raw.source,
        discovered_via=raw.discovered_via,
        hints=raw.hints,
        fetched_at=raw.fetched_at,
    )
    return news, article.problem, time.process_time() - started
