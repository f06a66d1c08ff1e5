"""The sitemap spider: a sitemap, a sitemap index (nested) or a site root's robots.txt."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import urljoin, urlsplit

import scrapy
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.http import Response

from storywatch.discovery.sitemaps import SitemapEntry, parse_sitemap, robots_sitemaps
from storywatch.normalise.dates import utc_now
from storywatch.normalise.item import FeedHints
from storywatch.normalise.urls import document_base
from storywatch.spiders.base import NewsSpider, header
from storywatch.spiders.politeness import listing_key, remember_validators, stored_validators

# Index → index → sitemap is the deepest nesting seen in the wild; more is a loop or a trap.
MAX_INDEX_DEPTH = 3


def is_site_root(url: str) -> bool:
    parts = urlsplit(url)
    return parts.path in ("", "/") and not parts.query


class SitemapSpider(NewsSpider):
    """Crawl one sitemap source: its sitemaps, then each fresh entry's page.

    Entries older than the source's max_age are skipped without a request: a news sitemap's
    publication date decides, else <lastmod>; entries without any date are fetched. A child
    sitemap of an index whose <lastmod> is older than max_age is not fetched either.
    """

    name = "sitemap"
    discovered_via = "sitemap"
    classify_pages = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.cutoff = utc_now() - timedelta(days=7)  # replaced by the source's max_age
        self.sitemaps_seen: set[str] = set()

    async def start(self) -> AsyncIterator[scrapy.Request]:
        self.cutoff = utc_now() - self.source.max_age
        urls = [self.source.url]
        if is_site_root(self.source.url):
            urls = await self._robots_sitemaps(self.source.url)
        for url in urls:
            if url not in self.sitemaps_seen:
                self.sitemaps_seen.add(url)
                try:
                    request = self.listing_request(url, self.parse, sitemap_depth=0)
                except ValueError as exc:  # a URL Scrapy cannot request: said, not silent
                    self.crawler.stats.inc_value("storywatch/listings_failed")
                    self.record_failure(url, f"cannot request this sitemap URL: {exc}")
                    continue
                yield request

    async def _robots_sitemaps(self, root: str) -> list[str]:
        """`Sitemap:` lines of robots.txt, read from the copy the robots middleware fetched.

        Asking the middleware (rather than requesting /robots.txt again) keeps it to one
        robots.txt request per site and run. Without robots.txt obedience it is fetched here.
        """
        parts = urlsplit(root)
        robots_url = f"{parts.scheme}://{parts.netloc}/robots.txt"
        middleware = self._robots_middleware()
        found: list[str] = []
        if middleware is not None:
            parser = await middleware.robot_parser(scrapy.Request(robots_url))
            protego = getattr(parser, "rp", None)
            if protego is not None:
                found = self._usable_sitemaps(protego.sitemaps, robots_url)
        else:
            response = await self.crawler.engine.download_async(  # type: ignore[union-attr]
                scrapy.Request(robots_url, meta={"handle_httpstatus_all": True})
            )
            if response.status == 200:
                found = robots_sitemaps(response.body, robots_url)
        if not found:
            self.logger.info("%s: robots.txt names no sitemap; trying /sitemap.xml", root)
            found = [f"{parts.scheme}://{parts.netloc}/sitemap.xml"]
        return found

    def _usable_sitemaps(self, lines: Iterable[str], robots_url: str) -> list[str]:
        """`Sitemap:` values resolved against robots.txt's URL (a relative `/x.xml` is
        common); anything that is not then http(s) is reported against robots.txt, and
        never requested."""
        found: list[str] = []
        for line in lines:
            url = urljoin(robots_url, line.strip())
            if urlsplit(url).scheme in ("http", "https") and urlsplit(url).hostname:
                found.append(url)
            else:
                self.crawler.stats.inc_value("storywatch/listings_failed")
                self.record_failure(robots_url, f"Sitemap: {line.strip()!r} is not an "
                                    "http(s) URL; only http(s) is ever fetched")
        return list(dict.fromkeys(found))

    def _robots_middleware(self) -> RobotsTxtMiddleware | None:
        downloader = self.crawler.engine.downloader  # type: ignore[union-attr]
        for middleware in downloader.middleware.middlewares:
            if isinstance(middleware, RobotsTxtMiddleware):
                return middleware
        return None

    def parse(self, response: Response) -> Iterator[scrapy.Request]:
        depth = response.meta.get("sitemap_depth", 0)
        if self.not_modified(response):
            stored = stored_validators(response)
            for child_url in stored.children if stored else []:
                yield from self._child(child_url, depth)
            return
        base = document_base(response.url, header(response, b"Content-Location"))
        sitemap = parse_sitemap(response.body, base)
        if sitemap.error:
            self.crawler.stats.inc_value("storywatch/listings_failed")
            self.record_failure(response.url, sitemap.error)
            return
        if sitemap.warning:
            self.logger.warning("%s: %s (source %s)", response.url, sitemap.warning,
                                self.source.name)
        if not (sitemap.entries or sitemap.sitemaps):
            self.logger.info("%s: sitemap lists nothing (source %s)", response.url,
                             self.source.name)
        children: list[str] = []
        for child in sitemap.sitemaps:
            if self._stale(child):
                self.crawler.stats.inc_value("storywatch/sitemaps_stale")
                continue
            children.append(child.loc)
            yield from self._child(child.loc, depth)
        key = listing_key(response)
        for entry in sitemap.entries:
            if self._stale(entry):
                self.crawler.stats.inc_value("storywatch/entries_stale")
                continue
            if not self.url_allowed(entry.loc):
                self.crawler.stats.inc_value("storywatch/entries_filtered")
                continue
            hints = entry.hints or FeedHints(title=entry.title, published=entry.published,
                                             language=entry.language)
            yield self.article_request(entry.loc, hints, listing=key)
        remember_validators(self, response, children)

    def _child(self, url: str, depth: int) -> Iterator[scrapy.Request]:
        if url in self.sitemaps_seen:
            return
        if depth + 1 > MAX_INDEX_DEPTH:
            self.record_failure(url, f"sitemap nested deeper than {MAX_INDEX_DEPTH} indexes")
            return
        self.sitemaps_seen.add(url)
        yield self.listing_request(url, self.parse, sitemap_depth=depth + 1)

    def _stale(self, entry: SitemapEntry) -> bool:
        date = entry.date
        # A date in the future is a publisher's clock or time-zone mistake, not staleness.
        return date is not None and date < self.cutoff
