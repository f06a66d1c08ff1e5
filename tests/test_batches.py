"""Batched writes in the crawl: BatchWriter, StorePipeline's batches on a real database,
and the known-article check that reads stored URLs once per run."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest
from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.utils.test import get_crawler
from sqlalchemy import event, func, select
from sqlalchemy.engine import make_url

from storywatch.classify.service import Classifier
from storywatch.config import Config, SourceConfig, TopicConfig
from storywatch.normalise.dates import utc_now
from storywatch.normalise.item import NewsItem
from storywatch.normalise.segment import word_count
from storywatch.normalise.text import content_hash
from storywatch.spiders.batches import BatchWriter
from storywatch.spiders.context import crawler_storage
from storywatch.spiders.known import KnownUrls
from storywatch.spiders.meta import ARTICLE_META, AlreadyKnown
from storywatch.spiders.middlewares import KnownArticleMiddleware
from storywatch.spiders.pipelines import StorePipeline
from storywatch.storage import open_storage
from storywatch.storage.models import Item, Judgement
from storywatch.storage.repository import save_item
from tests.faults.proxy import RestartingProxy

SEED = Path(__file__).parent / "data" / "eval" / "seeds" / "seed-a.txt"


def _run_writer(items: list[int], *, max_items: int, fail: bool = False
                ) -> tuple[list[list[int]], list[tuple[int, object]], set[str]]:
    batches: list[list[int]] = []
    outcomes: list[tuple[int, object]] = []
    threads: set[str] = set()

    def write(batch: list[int]) -> list[int]:
        threads.add(threading.current_thread().name)
        batches.append(list(batch))
        if fail:
            raise RuntimeError("the database said no")
        return [n * 10 for n in batch]

    async def run() -> None:
        writer: BatchWriter[int, int] = BatchWriter(
            write, lambda item, result: outcomes.append((item, result)),
            lambda item, error: outcomes.append((item, str(error))),
            max_items=max_items, max_seconds=60)
        for item in items:
            await writer.submit(item)
        await writer.close()

    asyncio.run(run())
    return batches, outcomes, threads


def test_batches_are_cut_at_max_items_written_in_order_on_one_thread() -> None:
    batches, outcomes, threads = _run_writer(list(range(120)), max_items=50)
    assert [len(b) for b in batches] == [50, 50, 20]
    assert [n for b in batches for n in b] == list(range(120))
    assert outcomes == [(n, n * 10) for n in range(120)]
    assert len(threads) == 1 and threading.main_thread().name not in threads


def test_a_failed_batch_is_reported_for_each_of_its_items() -> None:
    _batches, outcomes, _threads = _run_writer([1, 2, 3], max_items=50, fail=True)
    assert outcomes == [(n, "the database said no") for n in (1, 2, 3)]


def test_a_partial_batch_is_written_after_max_seconds_without_more_items() -> None:
    written: list[list[int]] = []

    async def run() -> float:
        writer: BatchWriter[int, int] = BatchWriter(
            lambda batch: written.append(batch) or batch, lambda *_: None, lambda *_: None,
            max_items=50, max_seconds=0.05)
        for n in range(3):
            await writer.submit(n)
        deadline = time.monotonic() + 10
        while not written and time.monotonic() < deadline:  # polled, no close() yet
            await asyncio.sleep(0.01)
        seen = len(written)
        await writer.close()
        return seen

    assert asyncio.run(run()) == 1
    assert written == [[0, 1, 2]]


# -- StorePipeline on a real database --------------------------------------------------------

def _news(n: int, *, canonical: str | None = None, text: str | None = None) -> NewsItem:
    body = text or (f"Report {n}: the harbour council voted on the {n} new berths after a "
                    "long debate about the cost of dredging and the ferry timetable. " * 3)
    url = f"https://wire.example/news/{n}.html"
    return NewsItem(url=url, canonical_url=canonical if canonical is not None else url,
                    title=f"Report {n}", authors=[], published_at=utc_now(),
                    fetched_at=utc_now(), language="en", text=body, source="wire",
                    discovered_via="feed", content_hash=content_hash(body),
                    word_count=word_count(body), extractor="test")


def _crawler(database_url: str, tmp_path: Path, *, topics: bool = True) -> Crawler:
    seed = tmp_path / "seed.txt"
    seed.write_text(SEED.read_text(encoding="utf-8"), encoding="utf-8")
    config = Config.model_validate({
        "storage": {"url": database_url},
        "topics": [TopicConfig(name="deserters", seeds=[str(seed)])] if topics else [],
        "sources": [SourceConfig(name="wire", url="https://wire.example/feed")],
    })
    return get_crawler(Spider, {"STORYWATCH_CONFIG": config})


def _through(store: StorePipeline, items: list[NewsItem]) -> None:
    async def run() -> None:
        for item in items:
            await store.process_item(item)
        await store.close_spider()

    asyncio.run(run())


def test_one_item_the_database_refuses_costs_only_itself(database_url: str,
                                                        tmp_path: Path) -> None:
    crawler = _crawler(database_url, tmp_path)
    store = StorePipeline(crawler)
    bad = _news(99)
    bad.canonical_url = None  # type: ignore[assignment]  # NOT NULL: the database refuses it
    _through(store, [_news(1), _news(2), bad, _news(3)])
    storage = open_storage(database_url)
    with storage.session() as session:
        urls = set(session.execute(select(Item.canonical_url)).scalars())
        judged = session.execute(select(func.count(Judgement.id))).scalar_one()
    storage.dispose()
    assert urls == {_news(n).url for n in (1, 2, 3)}
    assert judged == 3  # the good items of the failed batch were stored AND judged
    stats = crawler.stats
    assert stats is not None
    assert stats.get_value("storywatch/articles_new") == 3
    assert stats.get_value("storywatch/articles_failed") == 1
    crawler_storage(crawler).dispose()


def _judgements_per_url(database_url: str) -> dict[str, int]:
    """Every stored item's URL, with how many judgements it has."""
    storage = open_storage(database_url)
    with storage.session() as session:
        rows = dict(session.execute(
            select(Item.url, func.count(Judgement.id))
            .outerjoin(Judgement, Judgement.item_id == Item.id).group_by(Item.url)).all())
    storage.dispose()
    return rows


class _FailsOn(Classifier):
    """The real classifier, except that judging one URL raises (a bug in the classifier)."""

    def __init__(self, config: Config, url: str) -> None:
        super().__init__(config)
        self.url = url

    def classify(self, session, item, topics=None, **options):  # type: ignore[no-untyped-def]
        decisions = super().classify(session, item, topics, **options)  # written, then fails
        if item.url == self.url:
            raise RuntimeError("classifier bug")
        return decisions


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_judging_failure_leaves_the_item_stored_unjudged_and_the_batch_goes_on(
        database_url: str, tmp_path: Path) -> None:
    crawler = _crawler(database_url, tmp_path)
    store = StorePipeline(crawler)
    assert store.writer is not None  # no writer process here: a thread
    store.writer.classifier = _FailsOn(store.writer.config, _news(2).url)
    _through(store, [_news(1), _news(2), _news(3)])
    assert _judgements_per_url(database_url) == {_news(1).url: 1, _news(2).url: 0,
                                                 _news(3).url: 1}
    assert crawler.stats.get_value("storywatch/judge_failed") == 1  # type: ignore[union-attr]
    crawler_storage(crawler).dispose()


class _CutWhilePreparing(Classifier):
    """The real classifier; the database behind its proxy "restarts" (every connection cut,
    new ones refused for a while) as the first batch is being prepared for judging."""

    def __init__(self, config: Config, proxy: RestartingProxy) -> None:
        super().__init__(config)
        self.proxy = proxy

    def prepare(self, session, batch):  # type: ignore[no-untyped-def]
        if not self.proxy.cuts:
            self.proxy.restart(2.0)
        return super().prepare(session, batch)


def test_a_database_restart_while_a_batch_is_prepared_is_waited_out(
        postgres_url: str, tmp_path: Path) -> None:
    """Preparing a batch reads the database (the topic's state, copies): a connection lost
    then must reach the batch's retry, not be taken for a classifier error (which left
    the session on a dead connection, and the batch's items lost)."""
    database = make_url(postgres_url)
    with RestartingProxy(database.host or "127.0.0.1", database.port or 5432) as proxy:
        proxied = database.set(host="127.0.0.1", port=proxy.port).render_as_string(
            hide_password=False)
        crawler = _crawler(proxied, tmp_path)
        store = StorePipeline(crawler)
        assert store.writer is not None
        store.writer.classifier = _CutWhilePreparing(store.writer.config, proxy)
        _through(store, [_news(1), _news(2), _news(3)])
        crawler_storage(crawler).dispose()
    assert proxy.cuts == 1
    # stored and judged, once each
    assert _judgements_per_url(postgres_url) == {_news(n).url: 1 for n in (1, 2, 3)}
    assert crawler.stats.get_value("storywatch/articles_failed") is None  # type: ignore[union-attr]


# -- the known-article check -----------------------------------------------------------------

def test_known_urls_holds_every_stored_url_form(tmp_path: Path) -> None:
    storage = open_storage(f"sqlite:///{tmp_path / 'sw.db'}")
    item = _news(1)
    item.aliases = ["https://wire.example/amp/1.html"]
    with storage.session() as session:
        save_item(session, item)
    known = KnownUrls.load(storage)
    storage.dispose()
    assert item.canonical_url in known and "https://wire.example/amp/1.html" in known
    assert "https://wire.example/news/2.html" not in known
    assert len(known) == 2


def test_the_known_article_check_reads_the_database_once_per_run(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'sw.db'}"
    storage = open_storage(database_url)
    with storage.session() as session:
        for n in range(10):
            save_item(session, _news(n))
    storage.dispose()
    crawler = _crawler(database_url, tmp_path, topics=False)
    middleware = KnownArticleMiddleware(crawler)
    statements: list[str] = []
    event.listen(crawler_storage(crawler).engine, "before_cursor_execute",
                 lambda _conn, _cursor, statement, *_: statements.append(statement))
    known = sent = 0
    for n in range(40):
        request = Request(_news(n).url, meta={ARTICLE_META: True})
        try:
            middleware.process_request(request)
            sent += 1
        except AlreadyKnown:
            known += 1
    assert (known, sent) == (10, 30)
    assert len(statements) == 1, statements
    crawler_storage(crawler).dispose()
