"""Topic seed URLs fetched through the crawl's own guarded path, in a Scrapy crawl.

Seeds used to be fetched with urllib, which skipped everything a crawl enforces: a seed
on a site that redirected to 127.0.0.1 was fetched and stored. Here they are ordinary
Scrapy requests under the project's settings, so the same downloader middlewares apply:
the private-network guard (on every redirect hop too), the http(s)-only rule, robots.txt,
the redirect-loop check, crawl.max_page_bytes and the configured user agent.

`crawl_seeds` runs in a child process (classify/seeds.py starts it), because Scrapy's
reactor runs once per process and the callers (a crawl about to start, `rescore`) are
not inside a reactor.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import scrapy
from scrapy.crawler import CrawlerProcess
from scrapy.http import Response, TextResponse
from twisted.python.failure import Failure

from storywatch.classify.seed_pages import SeedError, seed_page_from_html
from storywatch.config import Config
from storywatch.extraction.encoding import decode_page
from storywatch.spiders.base import Declined, _describe
from storywatch.spiders.context import crawler_storage
from storywatch.spiders.settings import scrapy_settings


class SeedSpider(scrapy.Spider):
    """Fetch each seed URL once and keep its extracted text in the seed_pages table."""

    name = "seeds"
    # Seeds are not news items: nothing goes through the item pipelines.
    custom_settings = {"ITEM_PIPELINES": {}}  # noqa: RUF012 (Scrapy's own attribute)

    def __init__(self, *args: Any, urls: list[str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.urls = list(urls or [])
        self.failures: dict[str, str] = {}
        self.stored: list[str] = []

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for url in self.urls:
            try:
                request = scrapy.Request(url, callback=self.parse_seed,
                                         errback=self.seed_failed, cb_kwargs={"ref": url},
                                         meta={"storywatch_seed": url}, dont_filter=True)
            except ValueError as exc:
                self.failures[url] = f"cannot request it: {exc}"
                continue
            yield request

    # The guards report here (see politeness._report), with their reason.
    def record_request_failure(self, request: scrapy.Request, reason: str, *,
                               transient: bool = False) -> None:
        ref = request.meta.get("storywatch_seed", request.url)
        if request.url != ref:
            reason += f" (redirected to {request.url})"
        self.failures[ref] = reason
        self.logger.warning("seed %s: %s", ref, reason)

    def seed_failed(self, failure: Failure) -> None:
        request = failure.request  # type: ignore[attr-defined]
        ref = request.meta.get("storywatch_seed", request.url)
        if failure.check(Declined) and ref in self.failures:
            return  # a guard refused it and said why
        self.failures.setdefault(ref, _describe(failure))
        self.logger.warning("seed %s: %s", ref, self.failures[ref])

    def parse_seed(self, response: Response, ref: str) -> None:
        if not isinstance(response, TextResponse):
            self.failures[ref] = "not an HTML page"
            return
        try:
            page = seed_page_from_html(ref, decode_page(response.body, response.encoding))
        except SeedError as exc:
            self.failures[ref] = str(exc)
            return
        with crawler_storage(self.crawler).session() as session:
            session.merge(page)
        self.stored.append(ref)


def crawl_seeds(config: Config, urls: list[str]) -> dict[str, str]:
    """Fetch the seed URLs (in this process, which must not have run a reactor yet);
    return why each one that was not stored failed."""
    settings = scrapy_settings(config, {"LOG_LEVEL": "WARNING"})
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(SeedSpider)
    process.crawl(crawler, urls=urls)
    process.start()
    spider = crawler.spider
    assert isinstance(spider, SeedSpider)
    storage = getattr(crawler, "_storywatch_storage", None)
    if storage is not None:
        storage.dispose()
    failures = dict(spider.failures)
    for url in urls:
        if url not in spider.stored:
            failures.setdefault(url, "no answer before the crawl ended")
    return failures
