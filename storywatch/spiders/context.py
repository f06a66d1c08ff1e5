"""Objects shared by the components of a crawl: config, storage, and the run's shared state."""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from scrapy.crawler import Crawler

from storywatch.config import Config, load_config
from storywatch.storage import Storage, open_storage

if TYPE_CHECKING:
    from storywatch.cluster.claims import UrlClaims
    from storywatch.cluster.slots import HostSlots
    from storywatch.spiders.known import KnownUrls


def crawler_config(crawler: Crawler) -> Config:
    """The config given by `run_crawl`, or (under plain `scrapy crawl`) the usual lookup."""
    config = getattr(crawler, "_storywatch_config", None)
    if config is None:
        config = crawler.settings.get("STORYWATCH_CONFIG")
        if not isinstance(config, Config):
            config = load_config(crawler.settings.get("STORYWATCH_CONFIG_PATH"))
        crawler._storywatch_config = config  # type: ignore[attr-defined]
    return config


def crawler_storage(crawler: Crawler) -> Storage:
    """One engine per crawler, shared by the middleware that checks URLs and the pipelines."""
    storage = getattr(crawler, "_storywatch_storage", None)
    if storage is None:
        storage = open_storage(crawler_config(crawler).storage.url)
        crawler._storywatch_storage = storage  # type: ignore[attr-defined]
    return storage


@dataclass
class RunContext:
    """State shared by all crawlers of one run (one per source), attached by `run_crawl`.

    Attached to each crawler rather than put in the settings, because Scrapy deep-copies
    settings per crawler: a set or a process pool would be copied, or fail to copy.
    """

    requested_urls: set[str] = field(default_factory=set)
    extract_pool: Executor | None = None
    # One process that stores and judges every batch (spiders/writer.py); None: a thread.
    writer_pool: Executor | None = None
    # URLs stored before the run, read at the first article request (KnownArticleMiddleware).
    known_urls: KnownUrls | None = None
    # Cluster mode: claims on canonical URLs in the shared store, taken before each
    # article request (storywatch.cluster.claims); None when one process crawls alone.
    claims: UrlClaims | None = None
    # Cluster mode with Redis: per-host request slots shared by every worker.
    host_slots: HostSlots | None = None


def run_context(crawler: Crawler) -> RunContext:
    """The run's context, or a private one when the crawler was started by `scrapy crawl`."""
    context = getattr(crawler, "storywatch_run", None)
    if context is None:
        context = RunContext()
        crawler.storywatch_run = context  # type: ignore[attr-defined]
    return context
