"""Item pipelines: extract + normalise (worker processes), then store + judge (in batches)."""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from scrapy import Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from storywatch.config import TopicConfig
from storywatch.normalise.item import NewsItem
from storywatch.spiders.batches import BatchWriter
from storywatch.spiders.build import build_item
from storywatch.spiders.context import crawler_config, crawler_storage, run_context
from storywatch.spiders.items import RawArticle
from storywatch.storage.models import Item, Judgement
from storywatch.storage.repository import save_item

if TYPE_CHECKING:
    from storywatch.classify.service import Classifier

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


@dataclass
class Written:
    """What became of one item in its batch: its row, and its judgement per topic."""

    item_id: int | None
    created: bool = False
    judgements: dict[str, str] = field(default_factory=dict)
    error: str | None = None  # why it could not be stored
    judge_error: str | None = None  # why it is stored unjudged


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
        config = crawler_config(crawler)
        self.classifier: Classifier | None = None
        if config.topics:
            from storywatch.classify.service import Classifier

            self.classifier = Classifier(config)
        self._unusable: set[str] = set()  # topics whose seeds cannot be read this run
        # CPU seconds on the writer thread (written there, read at close): where time goes.
        self.seconds = {"storing": 0.0, "judging": 0.0, "writing_wall": 0.0}
        self.batches: BatchWriter[NewsItem, Written] = BatchWriter(
            self.write_batch, self._written, self._failed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StorePipeline:
        return cls(crawler)

    async def process_item(self, item: object, spider: Spider | None = None) -> object:
        if isinstance(item, NewsItem):
            await self.batches.submit(item)
        return item

    async def close_spider(self, spider: Spider | None = None) -> None:
        await self.batches.close()
        stats = self.crawler.stats
        assert stats is not None
        for name, seconds in self.seconds.items():
            stats.set_value(f"storywatch/seconds_{name}", round(seconds, 3))
        stats.set_value("storywatch/batches", self.batches.batches)
        stats.set_value("storywatch/seconds_waiting_for_writer", round(self.batches.waited, 3))
        log.info("time: extracting %.1f s (CPU, in workers), storing %.1f s and judging %.1f s "
                 "(CPU, writer thread; %.1f s of wall time writing), %d batches; items waited "
                 "%.1f s for the writer", stats.get_value("storywatch/seconds_extracting", 0.0),
                 self.seconds["storing"], self.seconds["judging"], self.seconds["writing_wall"],
                 self.batches.batches, self.batches.waited)

    # -- on the writer thread ---------------------------------------------------------------
    def write_batch(self, items: list[NewsItem]) -> list[Written]:
        """Store and judge the items in one transaction; one by one if that fails."""
        started = time.monotonic()
        try:
            return self._write_batch(items)
        finally:
            self.seconds["writing_wall"] += time.monotonic() - started

    def _write_batch(self, items: list[NewsItem]) -> list[Written]:
        storage = crawler_storage(self.crawler)
        try:
            with storage.session() as session:
                return [self._store_and_judge(session, item) for item in items]
        except SQLAlchemyError as exc:
            log.warning("a batch of %d items failed (%s); writing them one by one",
                        len(items), _first_line(exc))
        return [self._write_alone(item) for item in items]

    def _write_alone(self, item: NewsItem) -> Written:
        storage = crawler_storage(self.crawler)
        try:
            with storage.session() as session:
                return self._store_and_judge(session, item)
        except SQLAlchemyError as exc:
            error = _first_line(exc)
        try:  # stored unjudged is better than lost: `storywatch rescore --unjudged` judges it
            with storage.session() as session:
                saved = save_item(session, item)
            log.error("%s: stored but not judged: %s", item.url, error)
            return Written(saved.id, saved.created)
        except SQLAlchemyError as exc:
            return Written(None, error=f"cannot store: {_first_line(exc)}")

    def _store_and_judge(self, session: Session, item: NewsItem) -> Written:
        started = time.thread_time()
        try:
            saved = save_item(session, item)
        finally:
            self.seconds["storing"] += time.thread_time() - started
        written = Written(saved.id, saved.created)
        if self.classifier is None:
            return written
        started = time.thread_time()
        try:
            return self._judge(session, item, saved.id, saved.created, written)
        finally:
            self.seconds["judging"] += time.thread_time() - started

    def _judge(self, session: Session, item: NewsItem, item_id: int, created: bool,
               written: Written) -> Written:
        assert self.classifier is not None
        topics = self.classifier.topics_for(item.source)
        if not created:
            judged = set(session.execute(
                select(Judgement.topic).where(Judgement.item_id == item_id)).scalars())
            topics = [t for t in topics if t.name not in judged]
        topics = [t for t in topics if self._usable(session, t)]
        if not topics:
            return written
        stored = session.get(Item, item_id)
        assert stored is not None  # saved in this transaction
        try:
            # A savepoint: a judgement that fails half-way leaves the item stored, unjudged
            # (`storywatch rescore --unjudged` judges it later), and the batch goes on.
            with session.begin_nested():
                decisions = self.classifier.classify(session, stored, topics)
        except Exception as exc:
            log.error("%s: stored but not judged: %s: %s", item.url, type(exc).__name__,
                      _first_line(exc), exc_info=log.isEnabledFor(logging.DEBUG))
            written.judge_error = f"{type(exc).__name__}: {_first_line(exc)}"
            return written
        written.judgements = {topic: d.status for topic, d in decisions.items()}
        return written

    def _usable(self, session: Session, topic: TopicConfig) -> bool:
        """False (said once per run) for a topic whose seeds cannot be read or fetched."""
        from storywatch.classify.seeds import SeedError

        if topic.name in self._unusable or self.classifier is None:
            return False
        try:
            self.classifier.topic_classifier(session, topic)
        except SeedError as exc:
            self._unusable.add(topic.name)
            log.error("cannot classify for topic %s this run: %s", topic.name, exc)
            return False
        return True

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
        self._failed_store(item, f"not stored: {_first_line(error)}")

    def _failed_store(self, item: NewsItem, reason: str) -> None:
        self.crawler.stats.inc_value("storywatch/articles_failed")  # type: ignore[union-attr]
        spider = self.crawler.spider
        if spider is not None and hasattr(spider, "record_failure"):
            spider.record_failure(item.url, reason)


def _first_line(error: BaseException) -> str:
    text = str(getattr(error, "orig", None) or error).strip()
    return text.splitlines()[0] if text else type(error).__name__
