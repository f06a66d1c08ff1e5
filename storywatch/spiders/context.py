"""Per-crawler shared objects: the config and one storage handle for all components."""

from __future__ import annotations

from scrapy.crawler import Crawler

from storywatch.config import Config, load_config
from storywatch.storage import Storage, open_storage


def crawler_config(crawler: Crawler) -> Config:
    """The config given by `run_crawl`, or (under plain `scrapy crawl`) the usual lookup."""
    config = crawler.settings.get("STORYWATCH_CONFIG")
    if not isinstance(config, Config):
        config = load_config(crawler.settings.get("STORYWATCH_CONFIG_PATH"))
        crawler.settings.frozen = False
        crawler.settings.set("STORYWATCH_CONFIG", config, priority="cmdline")
    return config


def crawler_storage(crawler: Crawler) -> Storage:
    """One engine per crawler, shared by the middleware that checks URLs and the pipelines."""
    storage = getattr(crawler, "_storywatch_storage", None)
    if storage is None:
        storage = open_storage(crawler_config(crawler).storage.url)
        crawler._storywatch_storage = storage  # type: ignore[attr-defined]
    return storage
