"""Downloader middlewares: decide, before a request is sent, whether it is worth sending."""

from __future__ import annotations

import logging
import re

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.redirect import MetaRefreshMiddleware as _MetaRefresh
from scrapy.http import HtmlResponse, Response
from scrapy.utils.asyncio import sleep
from scrapy.utils.httpobj import urlparse_cached

from storywatch.normalise.urls import canonical_url
from storywatch.spiders.context import crawler_storage, run_context
from storywatch.spiders.known import KnownUrls
from storywatch.spiders.meta import ARTICLE_META, LISTING_META, AlreadyKnown, Declined
from storywatch.storage.outage import through_outage

log = logging.getLogger(__name__)


class KnownArticleMiddleware:
    """Skip article requests whose canonical URL is already stored or already requested.

    The per-run set serves the hot path (the same article listed by several feeds); what
    was stored before the run is read from the database once, at the first article
    request (see known.py), not queried per request. Only article requests are checked:
    feeds and sitemaps must be fetched every time. Both are shared by all crawlers of one
    run (see RunContext), so two sources listing one article in the same run cost one
    download.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.context = run_context(crawler)
        self.requested = self.context.requested_urls

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> KnownArticleMiddleware:
        return cls(crawler)

    def process_request(self, request: Request, spider: Spider | None = None) -> None:
        if not request.meta.get(ARTICLE_META) or request.meta.get("storywatch_checked"):
            return None
        try:
            canonical = canonical_url(request.url)
        except ValueError:
            raise Declined(f"not an http(s) URL: {request.url}") from None
        request.meta["storywatch_checked"] = True
        stats = self.crawler.stats
        if canonical in self.requested:
            stats.inc_value("storywatch/articles_repeated")  # type: ignore[union-attr]
            raise AlreadyKnown(f"already requested in this run: {canonical}")
        if self.context.known_urls is None:
            storage = crawler_storage(self.crawler)
            self.context.known_urls = through_outage(lambda: KnownUrls.load(storage),
                                                     what="reading the stored URLs")
        if canonical in self.context.known_urls:
            stats.inc_value("storywatch/articles_known")  # type: ignore[union-attr]
            raise AlreadyKnown(f"already stored: {canonical}")
        if self.context.claims is not None:
            self._claim(request, canonical)
        self.requested.add(canonical)
        return None

    def _claim(self, request: Request, canonical: str) -> None:
        """Cluster mode: the article is ours to fetch only if no other worker has it."""
        from storywatch.cluster.claims import KNOWN, TAKEN

        assert self.context.claims is not None
        verdict = self.context.claims.claim(canonical)
        stats = self.crawler.stats
        if verdict == KNOWN:
            stats.inc_value("storywatch/articles_known")  # type: ignore[union-attr]
            raise AlreadyKnown(f"already stored: {canonical}")
        if verdict == TAKEN:
            stats.inc_value("storywatch/articles_claimed_elsewhere")  # type: ignore[union-attr]
            # Not a 304 next time: if the other worker fails to fetch it, we list it again.
            spider = self.crawler.spider
            listing = request.meta.get(LISTING_META)
            if listing and spider is not None and hasattr(spider, "dirty_listings"):
                spider.dirty_listings.add(listing)
            raise AlreadyKnown(f"being fetched by another worker: {canonical}")


# The slot a request holds while it is being downloaded (cluster mode, HostSlotsMiddleware).
SLOT_META = "storywatch_host_slot"
# How often a request waiting for a host's slot asks again.
SLOT_POLL_SECONDS = 0.05


class HostSlotsMiddleware:
    """Cluster mode: send a request only while holding one of its host's cluster-wide
    slots (storywatch.cluster.slots); released when its response or error comes back.

    Last before the download (priority 880): requests dropped earlier (known articles,
    robots.txt, the private-network guard) never wait for a slot, and the slot is given
    back before the retry and redirect middlewares make a new request of the response.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.slots = run_context(crawler).host_slots

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> HostSlotsMiddleware:
        return cls(crawler)

    async def process_request(self, request: Request, spider: Spider | None = None) -> None:
        if self.slots is None or SLOT_META in request.meta:
            return None
        host = urlparse_cached(request).netloc.lower()
        waited = 0
        while True:
            slot = self.slots.try_acquire(host)
            if slot is not None:
                request.meta[SLOT_META] = slot
                if waited:
                    self.crawler.stats.inc_value(  # type: ignore[union-attr]
                        "storywatch/host_slot_waits")
                return None
            waited += 1
            await sleep(SLOT_POLL_SECONDS)

    def process_response(self, request: Request, response: Response,
                         spider: Spider | None = None) -> Response:
        self._release(request)
        return response

    def process_exception(self, request: Request, exception: Exception,
                          spider: Spider | None = None) -> None:
        self._release(request)
        return None

    def _release(self, request: Request) -> None:
        slot = request.meta.pop(SLOT_META, None)
        if slot is not None and self.slots is not None:
            self.slots.release(slot)


class MetaRefreshMiddleware(_MetaRefresh):
    """Scrapy's MetaRefreshMiddleware, without decoding pages that hold no refresh.

    To look for <meta http-equiv="refresh"> in a page's first 4,096 characters, Scrapy
    decodes the whole page (`response.text`) and keeps the text on the response while its
    item is in the pipelines: on real pages that was a tenth of the crawl process's CPU
    (py-spy) and a decoded copy of every page in flight, in a process that otherwise
    hands the page's bytes to an extraction worker undecoded. A page that can hold a
    refresh there has the ASCII bytes "refresh" in its first 16 KiB (4,096 characters of
    at most 4 bytes each) in any ASCII-compatible charset; any other page (UTF-16 or
    UTF-32, whose bytes hold NULs) goes to Scrapy's own check, as does every page that
    has the word."""

    def process_response(self, request: Request, response: Response,
                         spider: Spider | None = None) -> Request | Response:
        if isinstance(response, HtmlResponse) and not _may_refresh(response.body):
            return response
        return super().process_response(request, response)


# 4,096 characters (what Scrapy's get_meta_refresh reads) of at most 4 bytes each.
_REFRESH_HEAD_BYTES = 4096 * 4
# Searched in place on the reactor thread: no slice or lower-cased copy of the page.
_REFRESH_OR_NUL = re.compile(rb"refresh|\x00", re.IGNORECASE)


def _may_refresh(body: bytes) -> bool:
    return _REFRESH_OR_NUL.search(body, 0, _REFRESH_HEAD_BYTES) is not None
