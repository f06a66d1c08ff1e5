"""Item pipelines: extract + normalise (worker processes), then store + judge (in batches)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import Executor

from scrapy import Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

from storywatch.normalise.item import NewsItem
from storywatch.spiders.batches import BatchWriter
from storywatch.spiders.build import build_item
from storywatch.spiders.context import crawler_config, crawler_storage, run_context
from storywatch.spiders.items import RawArticle
from storywatch.spiders.writer import (
    Writer,
    Written,
    first_line,
    process_writer_seconds,
    write_in_process,
)

log = logging.getLogger(__name__)

# Under this many words nothing usable came out of the page or its listing.
MIN_STORED_WORDS = 15


class ExtractPipeline:
    """RawArticle → NewsItem: main text and metadata, merged with the listing's hints.

    Extraction is the crawl's main CPU cost and must not run on the reactor thread, which
    would stall every download meanwhile: `run_crawl` hands in a process pool (setting
    RunContext.extract_pool) and items are extracted there while the reactor keeps
    fetching. Without a pool (plain `scrapy crawl`, or extract_workers = 0) it runs inline.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.pool: Executor | None = run_context(crawler).extract_pool

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ExtractPipeline:
        return cls(crawler)

    async def process_item(self, item: object, spider: Spider | None = None) -> object:
        if not isinstance(item, RawArticle):
            return item
        if self.pool is None:
            news, problem, seconds = build_item(item)
        else:
            news, problem, seconds = await asyncio.get_running_loop().run_in_executor(
                self.pool, build_item, item
            )
        stats = self.crawler.stats
        assert stats is not None
        stats.inc_value("storywatch/seconds_extracting", seconds)  # type: ignore[arg-type]
        if news.word_count < MIN_STORED_WORDS:
            self.crawler.stats.inc_value("storywatch/articles_failed")  # type: ignore[union-attr]
            reason = problem or f"no article text ({news.word_count} words)"
            # Scrapy >= 2.13 no longer passes the spider to pipelines.
            spider = spider or self.crawler.spider
            if spider is not None and hasattr(spider, "record_failure"):
                spider.record_failure(item.url, reason)
            raise DropItem(f"{item.url}: {reason}")
        return news


class StorePipeline:
    """Store and judge items in batches (up to 50 items or 1 s) on one writer thread.

    Each batch is one transaction: every item in it is stored (an upsert on its canonical
    URL) and judged for each topic its source applies to, or none is. So kill -9 at any
    moment leaves an article stored and judged, or absent and fetched again by the next
    crawl. An article met again keeps its judgements; only topics it lacks are judged.
    If a batch fails (a row the database refuses), its items are retried one by one, so one
    bad item costs only itself. Runs after ExtractPipeline, off the reactor thread.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.pool: Executor | None = run_context(crawler).writer_pool
        self.writer: Writer | None = None
        if self.pool is None:  # no writer process: a thread of this one
            self.writer = Writer(crawler_config(crawler), crawler_storage(crawler))
            write: Callable[[list[NewsItem]], list[Written]] = self.writer.write_batch
        else:
            write = write_in_process
        self.batches: BatchWriter[NewsItem, Written] = BatchWriter(
            write, self._written, self._failed, executor=self.pool)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StorePipeline:
        return cls(crawler)

    async def process_item(self, item: object, spider: Spider | None = None) -> object:
        if isinstance(item, NewsItem):
            await self.batches.submit(item)
        return item

    async def close_spider(self, spider: Spider | None = None) -> None:
        await self.batches.close()
        if self.writer is not None:
            seconds = self.writer.seconds
        else:
            assert self.pool is not None
            seconds = await asyncio.wrap_future(self.pool.submit(process_writer_seconds))
        stats = self.crawler.stats
        assert stats is not None
        for name, value in seconds.items():
            stats.set_value(f"storywatch/seconds_{name}", round(value, 3))
        stats.set_value("storywatch/batches", self.batches.batches)
        stats.set_value("storywatch/seconds_waiting_for_writer", round(self.batches.waited, 3))
        log.info("time: extracting %.1f s (CPU, in workers), storing %.1f s and judging %.1f s "
                 "(CPU, writer %s; %.1f s of wall time writing), %d batches; items waited "
                 "%.1f s for the writer", stats.get_value("storywatch/seconds_extracting", 0.0),
                 seconds["storing"], seconds["judging"],
                 "thread" if self.writer is not None else "process", seconds["writing_wall"],
                 self.batches.batches, self.batches.waited)

    # -- back on the reactor ----------------------------------------------------------------
    def _written(self, item: NewsItem, written: Written) -> None:
        stats = self.crawler.stats
        assert stats is not None
        if written.item_id is None:
            self._failed_store(item, written.error or "not stored")
            return
        stats.inc_value(
            "storywatch/articles_new" if written.created else "storywatch/articles_existing")
        for status in written.judgements.values():
            stats.inc_value(f"storywatch/judged_{status}")
        if written.judge_error is not None:
            stats.inc_value("storywatch/judge_failed")
        item.stored_id = written.item_id  # type: ignore[attr-defined]
        item.stored_new = written.created  # type: ignore[attr-defined]
        item.judgements = written.judgements  # type: ignore[attr-defined]

    def _failed(self, item: NewsItem, error: BaseException) -> None:
        log.error("%s: not stored", item.url, exc_info=error)
        self._failed_store(item, f"not stored: {first_line(error)}")

    def _failed_store(self, item: NewsItem, reason: str) -> None:
        self.crawler.stats.inc_value("storywatch/articles_failed")  # type: ignore[union-attr]
        spider = self.crawler.spider
        if spider is not None and hasattr(spider, "record_failure"):
            spider.record_failure(item.url, reason)
