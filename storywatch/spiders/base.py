"""What every storywatch spider shares: its source, article requests and failure records."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import Any

import scrapy
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from storywatch.config import SourceConfig
from storywatch.discovery.pages import PageAnalysis, analyse_page
from storywatch.normalise.dates import utc_now
from storywatch.normalise.item import FeedHints
from storywatch.normalise.urls import canonical_url
from storywatch.spiders.context import crawler_config, run_context
from storywatch.spiders.items import RawArticle
from storywatch.spiders.meta import ARTICLE_META, CONDITIONAL_META, LISTING_META, Declined


class NewsSpider(scrapy.Spider):
    """Base of the feed, sitemap and site spiders; one spider instance crawls one source."""

    discovered_via = "unknown"
    # Sitemaps and sites list pages that may not be articles; feeds list articles only.
    classify_pages = False

    def __init__(self, *args: Any, source: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.source_name = source
        self.source: SourceConfig  # set in from_crawler, once the config is known
        self.failures: list[tuple[str, str]] = []
        # Validators of listings fetched this run, saved when the spider closes unless an
        # article of that listing failed transiently (then the next run must see it again).
        self.pending_validators: dict[str, Any] = {}
        self.dirty_listings: set[str] = set()

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

    def record_request_failure(
        self, request: scrapy.Request, reason: str, *, transient: bool = False
    ) -> None:
        """Count a failed request as an article or a listing failure, and record it.

        A transient failure of an article keeps its listing's validators from being saved,
        so the next run lists the article again instead of getting a 304.
        """
        kind = "articles_failed" if request.meta.get(ARTICLE_META) else "listings_failed"
        self.crawler.stats.inc_value(f"storywatch/{kind}")
        if transient and request.meta.get(LISTING_META):
            self.dirty_listings.add(request.meta[LISTING_META])
        listed = request.meta.get("redirect_urls", [request.url])[0]
        if listed != request.url:  # recorded against the URL the listing gave
            reason += f" (redirected to {request.url})"
        self.record_failure(listed, reason)

    def listing_failed(self, failure: Failure) -> None:
        if failure.check(Declined):
            return  # a middleware refused it and said why
        self.crawler.stats.inc_value("storywatch/listings_failed")
        self.record_failure(failure.request.url, _describe(failure))  # type: ignore[attr-defined]

    def article_failed(self, failure: Failure) -> None:
        request = failure.request  # type: ignore[attr-defined]
        if failure.check(Declined):
            return  # a middleware declined it (already known, refused) and said why
        if (failure.check(IgnoreRequest) and not failure.check(HttpError)
                and "robots.txt" in failure.getErrorMessage()):
            self.crawler.stats.inc_value("storywatch/robots_forbidden")
            self.logger.info("%s: forbidden by robots.txt (source %s)", request.url,
                             self.source_name)
            return
        response = getattr(failure.value, "response", None) if failure.check(HttpError) else None
        status = response.status if response is not None else None
        # 5xx, 429 and network errors may pass; 4xx answers (404, 410) will not.
        self.record_request_failure(request, _describe(failure),
                                    transient=status is None or status >= 500 or status == 429)

    # -- listings -------------------------------------------------------------------------
    def listing_request(self, url: str, callback: Any, **meta: Any) -> scrapy.Request:
        """A feed or sitemap request: conditional, and a 304 reaches the callback."""
        return scrapy.Request(
            url,
            callback=callback,
            errback=self.listing_failed,
            meta={CONDITIONAL_META: True, "handle_httpstatus_list": [304], **meta},
        )

    def not_modified(self, response: Response) -> bool:
        """True (and counted) when a listing answered 304: nothing to parse."""
        if response.status != 304:
            return False
        self.crawler.stats.inc_value("storywatch/not_modified")
        self.logger.info("%s: not modified since the last crawl (source %s)", response.url,
                         self.source_name)
        return True

    def closed(self, reason: str) -> None:
        """Save the validators of listings whose articles were all dealt with; a crawl cut
        short by crawl.timeout is a failure of its source, said as such."""
        from storywatch.spiders.politeness import save_pending_validators

        save_pending_validators(self)
        if reason == "closespider_timeout":
            limit = self.crawler.settings.getfloat("CLOSESPIDER_TIMEOUT")
            self.crawler.stats.inc_value("storywatch/listings_failed")
            self.record_failure(self.source.url, f"crawl stopped by crawl.timeout ({limit:g} s) "
                                "before every request was answered")

    # -- articles -------------------------------------------------------------------------
    def article_request(
        self, url: str, hints: FeedHints | None = None, *, listing: str | None = None,
        **meta: Any,
    ) -> scrapy.Request:
        self.crawler.stats.inc_value("storywatch/articles_listed")
        return scrapy.Request(
            url,
            callback=self.parse_article,
            errback=self.article_failed,
            meta={ARTICLE_META: True, "hints": hints or FeedHints(), LISTING_META: listing,
                  **meta},
        )

    def url_allowed(self, url: str) -> bool:
        """The source's allow (any must match, when given) and deny (none may) regexes."""
        if self.source.allow and not any(re.search(p, url) for p in self.source.allow):
            return False
        return not any(re.search(p, url) for p in self.source.deny)

    def follow_links(self, response: TextResponse, analysis: PageAnalysis) -> Iterator[Any]:
        """Requests for links found on a fetched page; only the site spider follows any."""
        return iter(())

    def parse_article(self, response: Response) -> Iterator[Any]:
        content_type = (response.headers.get(b"Content-Type") or b"").decode("latin-1")
        if not isinstance(response, TextResponse) or (
            content_type and "html" not in content_type.lower()
        ):
            self.crawler.stats.inc_value("storywatch/articles_failed")
            self.record_failure(response.url, f"not an HTML page ({content_type or 'no type'})")
            return
        if self.classify_pages:
            analysis = analyse_page(response.body, response.url)
            if analysis.amphtml:
                self._remember_requested(analysis.amphtml)
            yield from self.follow_links(response, analysis)
            if not analysis.is_article:
                self.crawler.stats.inc_value("storywatch/pages_not_article")
                self.logger.info("%s: not an article, not stored (%s page: %s)", response.url,
                                 analysis.kind, analysis.reason)
                return
        self.crawler.stats.inc_value("storywatch/articles_fetched")
        yield RawArticle(
            url=response.url,
            requested_url=response.request.url if response.request else response.url,
            body=response.body,
            content_type=content_type or None,
            source=self.source.name,
            discovered_via=self.discovered_via,
            fetched_at=utc_now(),
            hints=response.meta.get("hints") or FeedHints(),
        )

    def _remember_requested(self, url: str) -> None:
        """An article's AMP twin is the same article: never request it in this run."""
        with contextlib.suppress(ValueError):
            run_context(self.crawler).requested_urls.add(canonical_url(url))


def header(response: Response, name: bytes) -> str | None:
    """A response header as text (latin-1, as HTTP defines it), or None when absent/empty."""
    return (response.headers.get(name) or b"").decode("latin-1").strip() or None


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
