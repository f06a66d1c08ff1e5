"""The feed spider: one RSS/Atom feed, every entry's article page."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import scrapy
from scrapy.http import Response

from storywatch.discovery.feeds import parse_feed
from storywatch.spiders.base import NewsSpider, header
from storywatch.spiders.politeness import listing_key, remember_validators


class FeedSpider(NewsSpider):
    """Crawl one feed source: the feed itself, then every entry's article page."""

    name = "feed"
    discovered_via = "feed"

    async def start(self) -> AsyncIterator[scrapy.Request]:
        yield self.listing_request(self.source.url, self.parse)

    def parse(self, response: Response) -> Iterator[scrapy.Request]:
        if self.not_modified(response):
            return
        content_type = header(response, b"Content-Type")
        feed = parse_feed(response.body, response.url, content_type,
                          header(response, b"Content-Location"))
        if feed.error:
            self.crawler.stats.inc_value("storywatch/listings_failed")
            self.record_failure(response.url, feed.error)
            return
        if feed.warning:
            self.logger.warning("%s: %s (source %s)", response.url, feed.warning, self.source.name)
        if not feed.entries:
            self.logger.info("%s: feed has no entries", response.url)
        for entry in feed.entries:
            yield self.article_request(entry.link, entry.hints, listing=listing_key(response))
        remember_validators(self, response)
