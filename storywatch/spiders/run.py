"""Run one crawl of some sources in this process and summarise it.

Scrapy's reactor runs once per process, so this is called from the CLI's main thread or
from a child process of the daemon, never twice in one process.
"""

from __future__ import annotations

import gc
import logging
import os
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from multiprocessing.context import BaseContext
from typing import Any

from scrapy.crawler import CrawlerProcess

from storywatch.classify.seeds import prefetch_seeds, seed_urls
from storywatch.config import Config, SourceConfig
from storywatch.spiders.context import RunContext
from storywatch.spiders.feed import FeedSpider
from storywatch.spiders.malloc import keep_large_blocks_returnable
from storywatch.spiders.settings import scrapy_settings
from storywatch.spiders.site import SiteSpider
from storywatch.spiders.sitemap import SitemapSpider
from storywatch.storage import open_storage

SPIDERS: dict[str, type] = {"feed": FeedSpider, "sitemap": SitemapSpider, "site": SiteSpider}


@dataclass
class SourceSummary:
    source: str
    kind: str
    listed: int = 0
    known: int = 0
    fetched: int = 0
    new: int = 0
    existing: int = 0
    failed: int = 0
    listings_failed: int = 0
    requests: int = 0
    bytes: int = 0
    not_modified: int = 0  # listings that answered 304
    not_articles: int = 0  # pages fetched and classified as navigation/static, not stored
    stale: int = 0  # sitemap entries and child sitemaps skipped as older than max_age
    refused: int = 0  # requests refused by the private-network guard
    robots_forbidden: int = 0
    retry_after_waits: int = 0
    claimed_elsewhere: int = 0  # cluster mode: left to the worker that claimed it first
    failures: list[tuple[str, str]] = field(default_factory=list)
    finish_reason: str | None = None


@dataclass
class CrawlSummary:
    sources: list[SourceSummary]
    seconds: float

    @property
    def totals(self) -> dict[str, int]:
        keys = ("listed", "known", "fetched", "new", "existing", "failed", "listings_failed",
                "requests", "bytes", "not_modified", "not_articles", "stale", "refused",
                "robots_forbidden", "retry_after_waits", "claimed_elsewhere")
        return {key: sum(getattr(s, key) for s in self.sources) for key in keys}


# Extraction workers yield the CPU to the writer and the reactor: the writer (one process)
# is the crawl's narrowest stage, and with equal shares it got a quarter of 2 cores.
EXTRACT_NICENESS = 4


def extraction_pool(workers: int | None, *, for_cluster: bool = False
                    ) -> ProcessPoolExecutor | None:
    """Worker processes for extraction, so it runs beside the reactor, not on it.

    None (auto) means one worker per core (at most 4): extraction is most of a crawl's
    CPU, and the reactor and the writer thread need little beside it (on 2 cores, one
    worker left a core half idle: benchmarks/crawl_real.py). 0 means extract inline.
    `for_cluster`: the crawl runs for a cluster worker, where the parallelism is the
    workers' (several crawls at once), and auto means inline: 4 workers on 2 cores
    stored 27.9 articles/s extracting inline against 20.7 with a pool per crawl (each
    pool starts three processes per source crawled; benchmarks/cluster_scaling.py).
    Workers are started with forkserver: forking a process that already runs threads
    (database pools, the writer thread, the fixture server in tests) is unsafe.
    """
    if workers is None:
        workers = 0 if for_cluster else min(4, os.cpu_count() or 1)
    if workers <= 0:
        return None
    return ProcessPoolExecutor(max_workers=workers, mp_context=_forkserver(),
                               initializer=os.nice, initargs=(EXTRACT_NICENESS,))


def _forkserver() -> BaseContext:
    """The forkserver context, its server told to import the extractor before it forks
    anything (storywatch/spiders/preload.py), so that the extraction workers share those
    pages. A process has one forkserver, and the preload only counts when set before it
    starts: every user here sets it (the writer starts it first where threads run)."""
    context = get_context("forkserver")
    context.set_forkserver_preload(["storywatch.spiders.preload"])
    return context


def writer_process(config: Config, log_level: str) -> ProcessPoolExecutor:
    """The process that stores and judges the crawl's batches (spiders/writer.py).

    A process, not a thread: judging is a third of a crawl's CPU, and on a thread it
    shared the GIL with the reactor (busy 55 s, 25 s of it on CPU, in an 800-article run).
    It logs as this process does (the root handler's level and format).

    Forked when this process runs no other thread yet (a crawl child, before anything
    else): the writer then has every module this process imported, where a forkserver
    starts a new interpreter and imports them again, about 1.5 s of CPU a crawl
    (benchmarks/cluster_scaling.py runs one crawl per source). Its process is started
    here, before the reactor and its thread pool exist.
    """
    from storywatch.logs import JsonFormatter
    from storywatch.spiders.writer import start_process_writer

    root = logging.getLogger()
    level = next((logging.getLevelName(h.level) for h in root.handlers if h.level), log_level)
    fmt = "json" if any(isinstance(h.formatter, JsonFormatter) for h in root.handlers) else "text"
    context = _writer_context()
    # A forked writer holds both ends of its task queue: if this process died, it would
    # wait on it for ever. It dies with this process instead (storywatch/lifeline.py).
    parent = os.getpid() if context.get_start_method() == "fork" else None
    pool = ProcessPoolExecutor(max_workers=1, mp_context=context,
                               initializer=start_process_writer,
                               initargs=(config, level, fmt, parent))
    if parent is not None:
        # What this process holds now (modules, config) the writer shares, page for page,
        # as long as neither writes to it; the garbage collector would write to every
        # object it tracks on its first full pass in the writer, copying the pages.
        # Frozen, it leaves them alone (the gc module's own advice for fork); collected
        # first, so that no garbage waiting now is kept for good.
        gc.collect()
        gc.freeze()
    pool.submit(os.getpid).result()  # start it now (a fork must precede any thread)
    return pool


def _writer_context() -> BaseContext:
    """fork in a single-threaded process on Linux, else forkserver (see writer_process):
    forking a process that runs threads (database pools, a test's fixture server) can copy
    a lock in its held state."""
    if sys.platform.startswith("linux") and threading.active_count() == 1:
        return get_context("fork")
    return _forkserver()


def spider_for(kind: str) -> type:
    try:
        return SPIDERS[kind]
    except KeyError:
        raise ValueError(f"source kind {kind!r} has no spider yet") from None


def run_crawl(
    config: Config,
    sources: list[SourceConfig] | None = None,
    *,
    settings_overrides: dict[str, Any] | None = None,
) -> CrawlSummary:
    """Crawl the given sources (default: all) concurrently and return per-source figures."""
    from storywatch.cluster.child import host_slots, worker_claims

    sources = list(config.sources if sources is None else sources)
    settings = scrapy_settings(config, settings_overrides)
    # storywatch.logs owns the root handler; Scrapy only sets levels and its Twisted bridge.
    settings.set("LOG_INSTALL_ROOT_HANDLER", False, priority="cmdline")
    # Before the writer is forked: a mallopt call in a forked child would copy the pages
    # it shares with its parent (spiders/malloc.py).
    keep_large_blocks_returnable()
    # First, while this process has no thread and no database connection to share.
    writer = writer_process(config, str(settings.get("LOG_LEVEL") or "WARNING"))
    try:
        claims = worker_claims(config)  # cluster mode only: started by `storywatch worker`
        if sources and seed_urls(config):
            # Before the reactor: seed URLs are fetched in a crawl of their own (a child).
            seed_storage = open_storage(config.storage.url)
            try:
                prefetch_seeds(config, seed_storage)
            finally:
                seed_storage.dispose()
    except BaseException:
        writer.shutdown(wait=False, cancel_futures=True)
        raise
    pool = extraction_pool(config.crawl.extract_workers, for_cluster=claims is not None)
    slots = host_slots(config)
    context = RunContext(extract_pool=pool, writer_pool=writer, claims=claims,
                         host_slots=slots)
    process = CrawlerProcess(settings)
    crawlers = []
    for source in sources:
        crawler = process.create_crawler(spider_for(source.kind))
        crawler.storywatch_run = context  # type: ignore[attr-defined]
        process.crawl(crawler, source=source.name)
        crawlers.append((source, crawler))
    started = time.monotonic()
    if crawlers:
        process.start()
    seconds = time.monotonic() - started
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)
    writer.shutdown(wait=True)
    if slots is not None:
        slots.close()
    if claims is not None:  # after the writer: every stored article is in item_urls now
        claims.release_all()
        claims.storage.dispose()
    summaries = []
    for source, crawler in crawlers:
        stats = crawler.stats.get_stats() if crawler.stats else {}
        spider = crawler.spider
        summaries.append(
            SourceSummary(
                source=source.name,
                kind=source.kind,
                listed=stats.get("storywatch/articles_listed", 0),
                known=stats.get("storywatch/articles_known", 0)
                + stats.get("storywatch/articles_repeated", 0),
                fetched=stats.get("storywatch/articles_fetched", 0),
                new=stats.get("storywatch/articles_new", 0),
                existing=stats.get("storywatch/articles_existing", 0),
                failed=stats.get("storywatch/articles_failed", 0),
                listings_failed=stats.get("storywatch/listings_failed", 0),
                requests=stats.get("downloader/request_count", 0),
                bytes=stats.get("downloader/response_bytes", 0),
                not_modified=stats.get("storywatch/not_modified", 0),
                not_articles=stats.get("storywatch/pages_not_article", 0),
                stale=stats.get("storywatch/entries_stale", 0)
                + stats.get("storywatch/sitemaps_stale", 0),
                refused=stats.get("storywatch/refused_private", 0),
                robots_forbidden=stats.get("storywatch/robots_forbidden", 0),
                retry_after_waits=stats.get("storywatch/retry_after_waits", 0),
                claimed_elsewhere=stats.get("storywatch/articles_claimed_elsewhere", 0),
                failures=list(getattr(spider, "failures", [])),
                finish_reason=stats.get("finish_reason"),
            )
        )
        storage = getattr(crawler, "_storywatch_storage", None)
        if storage is not None:
            storage.dispose()
    return CrawlSummary(sources=summaries, seconds=seconds)
