"""Item pipelines: extract → normalise → store → classify; thin adapters over their packages."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import Executor

from scrapy import Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

from storywatch.extraction import extract_article
from storywatch.normalise.item import NewsItem, normalise_article
from storywatch.spiders.context import crawler_config, crawler_storage, run_context
from storywatch.spiders.items import RawArticle
from storywatch.storage.repository import save_item

log = logging.getLogger(__name__)

# Under this many words nothing usable came out of the page or its listing.
MIN_STORED_WORDS = 15


def build_item(raw: RawArticle) -> tuple[NewsItem, str | None]:
    """Extract and normalise one page, with the extractor's refusal reason if it refused.

    A module-level function so that worker processes can run it.
    """
    article = extract_article(raw.html, raw.url)
    return normalise_article(
        article,
        url=raw.url,
        requested_url=raw.requested_url,
        source=raw.source,
        discovered_via=raw.discovered_via,
        hints=raw.hints,
        fetched_at=raw.fetched_at,
    ), article.problem


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
            news, problem = build_item(item)
        else:
            news, problem = await asyncio.get_running_loop().run_in_executor(
                self.pool, build_item, item
            )
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
    """Store each item in its own transaction, so a crash never leaves half an item."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StorePipeline:
        return cls(crawler)

    def process_item(self, item: object, spider: Spider | None = None) -> object:
        if not isinstance(item, NewsItem):
            return item
        with crawler_storage(self.crawler).session() as session:
            saved = save_item(session, item)
        stats = self.crawler.stats
        stats.inc_value(  # type: ignore[union-attr]
            "storywatch/articles_new" if saved.created else "storywatch/articles_existing"
        )
        item.stored_id = saved.id  # type: ignore[attr-defined]
        item.stored_new = saved.created  # type: ignore[attr-defined]
        return item


class ClassifyPipeline:
    """Judge each stored item for every topic its source applies to.

    Runs after StorePipeline. All judgements of one item (and its near-copy index entry)
    are written in one transaction, so a crash leaves the item unjudged, never half
    judged; `storywatch rescore` judges such items later.
    """

    def __init__(self, crawler: Crawler) -> None:
        from storywatch.classify.service import Classifier

        self.crawler = crawler
        config = crawler_config(crawler)
        self.classifier = Classifier(config) if config.topics else None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ClassifyPipeline:
        return cls(crawler)

    def process_item(self, item: object, spider: Spider | None = None) -> object:
        stored_id = getattr(item, "stored_id", None)
        if self.classifier is None or not isinstance(item, NewsItem) or stored_id is None:
            return item
        from storywatch.classify.seeds import SeedError

        try:
            decisions = self.classifier.classify_stored(
                crawler_storage(self.crawler), stored_id,
                only_missing=not getattr(item, "stored_new", True))
        except SeedError as exc:
            log.error("cannot classify %s: %s", item.url, exc)
            return item
        stats = self.crawler.stats
        for decision in decisions.values():
            stats.inc_value(f"storywatch/judged_{decision.status}")  # type: ignore[union-attr]
        item.judgements = {  # type: ignore[attr-defined]
            topic: decision.status for topic, decision in decisions.items()
        }
        return item
