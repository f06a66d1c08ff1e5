"""The site spider: a homepage or section page, its "older" pages, and the articles listed."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import scrapy
from scrapy.http import Response, TextResponse

from storywatch.discovery.pages import PageAnalysis, analyse_page
from storywatch.normalise.urls import canonical_url, is_same_site
from storywatch.spiders.base import NewsSpider

LINK_DEPTH_META = "storywatch_link_depth"


class SiteSpider(NewsSpider):
    """Crawl one site source without a feed or sitemap.

    The start page and up to max_pages - 1 "next/older" pages are listings (depth 0); the
    article links on them are depth 1; an article's own links to other articles (related
    stories) are followed while the depth is below the source's `depth`. Only same-site
    links are followed, filtered by the source's allow/deny regexes; every fetched page is
    classified, and only articles are stored. Listing pages are fetched every run (they are
    the discovery documents); known articles are not (KnownArticleMiddleware).
    """

    name = "site"
    discovered_via = "site"
    classify_pages = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.listing_pages: set[str] = set()

    async def start(self) -> AsyncIterator[scrapy.Request]:
        self.listing_pages.add(canonical_url(self.source.url))
        yield scrapy.Request(self.source.url, callback=self.parse, errback=self.listing_failed)

    def parse(self, response: Response) -> Iterator[scrapy.Request]:
        if not isinstance(response, TextResponse):
            self.crawler.stats.inc_value("storywatch/listings_failed")
            self.record_failure(response.url, "the start page is not an HTML page")
            return
        analysis = analyse_page(response.body, response.url)
        self.crawler.stats.inc_value("storywatch/listing_pages")
        yield from self._articles(analysis, 1)
        for url in analysis.next_pages:
            if len(self.listing_pages) >= self.source.max_pages:
                self.crawler.stats.inc_value("storywatch/listing_pages_capped")
                break
            if not is_same_site(url, self.source.url):
                continue
            key = canonical_url(url)
            if key in self.listing_pages:
                continue
            self.listing_pages.add(key)
            yield scrapy.Request(url, callback=self.parse, errback=self.listing_failed)
            break  # one "next" page per page: the chain itself bounds the crawl

    def follow_links(self, response: TextResponse, analysis: PageAnalysis) -> Iterator[Any]:
        depth = int(response.meta.get(LINK_DEPTH_META, 1))
        if depth < self.source.depth:
            yield from self._articles(analysis, depth + 1)

    def _articles(self, analysis: PageAnalysis, depth: int) -> Iterator[scrapy.Request]:
        for url in analysis.article_links:
            if url in self.listing_pages or not is_same_site(url, self.source.url):
                continue
            if not self.url_allowed(url):
                self.crawler.stats.inc_value("storywatch/entries_filtered")
                continue
            meta: dict[str, Any] = {LINK_DEPTH_META: depth}
            yield self.article_request(url, **meta)
