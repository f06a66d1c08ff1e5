"""Item pipelines: extract → normalise → store → classify; thin adapters over their packages."""

from __future__ import annotations

import logging

from scrapy import Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

from storywatch.extraction import extract_article
from storywatch.normalise.item import NewsItem, normalise_article
from storywatch.spiders.context import crawler_config, crawler_storage
from storywatch.spiders.items import RawArticle
from storywatch.storage.repository import save_item

log = logging.getLogger(__name__)

# Under this many words nothing usable came out of the page or its listing.
MIN_STORED_WORDS = 15


class ExtractPipeline:
    """RawArticle → NewsItem: main text and metadata, merged with the listing's hints."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ExtractPipeline:
        return cls(crawler)

    def process_item(self, item: object, spider: Spider | None = None) -> object:
        if not isinstance(item, RawArticle):
            return item
        article = extract_article(item.html, item.url)
        news = normalise_article(
            article,
            url=item.url,
            requested_url=item.requested_url,
            source=item.source,
            discovered_via=item.discovered_via,
            hints=item.hints,
            fetched_at=item.fetched_at,
        )
        if news.word_count < MIN_STORED_WORDS:
            self.crawler.stats.inc_value("storywatch/articles_failed")  # type: ignore[union-attr]
            reason = f"no article text ({news.word_count} words)"
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
