"""What every storywatch spider shares: its source, article requests and failure records."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import scrapy
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from storywatch.config import SourceConfig
from storywatch.extraction.encoding import decode_page
from storywatch.normalise.dates import utc_now
from storywatch.normalise.item import FeedHints
from storywatch.spiders.context import crawler_config
from storywatch.spiders.items import RawArticle

ARTICLE_META = "storywatch_article"


class AlreadyKnown(IgnoreRequest):
    """A request skipped because its article is stored or requested already: not a failure.

    Every other IgnoreRequest (too many redirects, a body over the size limit once
    decompressed, robots.txt) is a failure and is recorded against its URL.
    """


class NewsSpider(scrapy.Spider):
    """Base of the feed, sitemap and site spiders; one spider instance crawls one source."""

    discovered_via = "unknown"

    def __init__(self, *args: Any, source: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.source_name = source
        self.source: SourceConfig  # set in from_crawler, once the config is known
        self.failures: list[tuple[str, str]] = []

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> NewsSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        if not spider.source_name:
            raise ValueError(f"give the source to crawl: scrapy crawl {cls.name} -a source=NAME")
        spider.source = crawler_config(crawler).source(spider.source_name)
        return spider

    # -- failures -------------------------------------------------------------------------
    def record_failure(self, url: str, reason: str) -> None:
        """Log a failure against its URL and count it; the crawl goes on."""
        self.failures.append((url, reason))
        self.crawler.stats.inc_value("storywatch/failures")
        self.logger.warning("%s: %s (source %s)", url, reason, self.source_name)

    def listing_failed(self, failure: Failure) -> None:
        self.crawler.stats.inc_value("storywatch/listings_failed")
        self.record_failure(failure.request.url, _describe(failure))  # type: ignore[attr-defined]

    def article_failed(self, failure: Failure) -> None:
        if failure.check(AlreadyKnown):
            return  # counted as known, not failed
        self.crawler.stats.inc_value("storywatch/articles_failed")
        request = failure.request  # type: ignore[attr-defined]
        listed = request.meta.get("redirect_urls", [request.url])[0]
        reason = _describe(failure)
        if listed != request.url:
            reason += f" (redirected to {request.url})"
        self.record_failure(listed, reason)

    def closed(self, reason: str) -> None:
        """A crawl cut short by crawl.timeout is a failure of its source, said as such."""
        if reason == "closespider_timeout":
            limit = self.crawler.settings.getfloat("CLOSESPIDER_TIMEOUT")
            self.crawler.stats.inc_value("storywatch/listings_failed")
            self.record_failure(self.source.url, f"crawl stopped by crawl.timeout ({limit:g} s) "
                                "before every request was answered")

    # -- articles -------------------------------------------------------------------------
    def article_request(self, url: str, hints: FeedHints | None = None) -> scrapy.Request:
        self.crawler.stats.inc_value("storywatch/articles_listed")
        return scrapy.Request(
            url,
            callback=self.parse_article,
            errback=self.article_failed,
            meta={ARTICLE_META: True, "hints": hints or FeedHints()},
        )

    def parse_article(self, response: Response) -> Iterator[RawArticle]:
        if not isinstance(response, TextResponse):
            self.crawler.stats.inc_value("storywatch/articles_failed")
            content_type = response.headers.get(b"Content-Type", b"").decode("latin-1")
            self.record_failure(response.url, f"not an HTML page ({content_type or 'no type'})")
            return
        self.crawler.stats.inc_value("storywatch/articles_fetched")
        yield RawArticle(
            url=response.url,
            requested_url=response.request.url if response.request else response.url,
            html=decode_page(response.body, response.encoding),
            source=self.source.name,
            discovered_via=self.discovered_via,
            fetched_at=utc_now(),
            hints=response.meta.get("hints") or FeedHints(),
        )


# Exceptions whose message is often empty, explained in words a user can act on.
_EXPLAINED = {
    "ResponseDataLossError": "connection closed before the whole body arrived",
    "ResponseFailed": "connection failed while receiving the response",
    "DownloadCancelledError": "download cancelled: body larger than crawl.max_page_bytes",
    "ConnectionRefusedError": "connection refused",
    "ConnectionLost": "connection lost",
    "TimeoutError": "timed out",
}


def _describe(failure: Failure) -> str:
    if failure.check(HttpError):
        status = failure.value.response.status  # type: ignore[union-attr]
        return f"HTTP {status}"
    name = failure.type.__name__ if failure.type else "error"
    message = failure.getErrorMessage().strip()
    if message in ("", "None", "[]"):
        return f"{name}: {_EXPLAINED.get(name, 'no details given')}"
    return f"{name}: {message}"
