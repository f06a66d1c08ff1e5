"""Scrapy settings of storywatch; `scrapy_settings(config)` overlays the user's config.

Politeness lives here, not in the spiders: robots.txt, AutoThrottle, per-domain
concurrency, timeouts and size limits.
"""

from __future__ import annotations

from typing import Any

from scrapy.settings import Settings, default_settings

from storywatch.config import Config

BOT_NAME = "storywatch"
# The modules that define spiders, not the whole package: Scrapy's spider loader imports
# every module it is given, and the package holds the extraction workers' preload
# (spiders/preload.py), which loads the language model: imported by the crawl process,
# it cost that process, and the writer forked from it, 74 MB each.
SPIDER_MODULES = ["storywatch.spiders.feed", "storywatch.spiders.sitemap",
                  "storywatch.spiders.site"]
NEWSPIDER_MODULE = "storywatch.spiders"

ROBOTSTXT_OBEY = True
ROBOTSTXT_PARSER = "scrapy.robotstxt.ProtegoRobotParser"
USER_AGENT = "storywatch/0.1 (+https://github.com/storywatch/storywatch)"
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 2
# Scrapy starts CONCURRENT_ITEMS asyncio tasks for the output of *every* response (scrapy
# issue #5182; 2.19 still does): with the default 100, each article page cost 101 task
# starts for its one item, ~20 % of the crawl process's CPU (py-spy, benchmarks/
# crawl_real.py). The limit is per response: an article yields one item and a listing
# yields requests, which are scheduled without waiting, so 8 loses no concurrency.
CONCURRENT_ITEMS = 8
DOWNLOAD_TIMEOUT = 30
DOWNLOAD_MAXSIZE = 5 * 1024 * 1024
DOWNLOAD_WARNSIZE = 0
RETRY_ENABLED = True
RETRY_TIMES = 2
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 2.0
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False
LOG_LEVEL = "INFO"
HTTPCACHE_ENABLED = False
# Checks the address each connection really uses (see PrivateNetworkMiddleware).
TWISTED_DNS_RESOLVER = "storywatch.spiders.politeness.GuardedResolver"
# Only http(s) is ever downloaded: a `Sitemap: file:///proc/self/environ` line in a
# robots.txt (or such a link anywhere) must not read local files, and file: has no size cap.
DOWNLOAD_HANDLERS = {"file": None, "ftp": None, "s3": None, "data": None}

# process_request runs in ascending order: known articles are dropped before any DNS
# lookup, the private-network guard runs before robots.txt is asked for, and the stored
# validators are added last. Responses travel in descending order: redirect loops (610),
# redirects (600), then
# Retry-After (560), then the backoff retry (550) that replaces Scrapy's own.
DOWNLOADER_MIDDLEWARES = {
    "storywatch.spiders.middlewares.KnownArticleMiddleware": 50,
    "storywatch.spiders.politeness.PrivateNetworkMiddleware": 55,
    "storywatch.spiders.politeness.ConditionalGetMiddleware": 60,
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "storywatch.spiders.politeness.BackoffRetryMiddleware": 550,
    "storywatch.spiders.politeness.RetryAfterMiddleware": 560,
    "storywatch.spiders.politeness.RedirectLoopMiddleware": 610,
    # Scrapy's, at its own place (580), without decoding pages that hold no refresh.
    "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware": None,
    "storywatch.spiders.middlewares.MetaRefreshMiddleware": 580,
    # Cluster mode: per-host slots shared by all workers; a no-op otherwise.
    "storywatch.spiders.middlewares.HostSlotsMiddleware": 880,
}
# Seconds before the first retry of a 5xx/timeout; doubled for each further try.
STORYWATCH_RETRY_BACKOFF = 1.0
ITEM_PIPELINES = {
    "storywatch.spiders.pipelines.ExtractPipeline": 100,
    "storywatch.spiders.pipelines.StorePipeline": 300,
}


# Scrapy 2.19 replaced RANDOMIZE_DOWNLOAD_DELAY (now deprecated, warning on every crawl)
# by DOWNLOAD_DELAY_JITTER; both exist across the versions pyproject.toml admits.
_NO_DELAY_JITTER: dict[str, Any] = (
    {"DOWNLOAD_DELAY_JITTER": 0.0} if hasattr(default_settings, "DOWNLOAD_DELAY_JITTER")
    else {"RANDOMIZE_DOWNLOAD_DELAY": False})


def scrapy_settings(config: Config, overrides: dict[str, Any] | None = None) -> Settings:
    """Project settings with the config's crawl section and the config object itself."""
    settings = Settings()
    settings.setmodule(__name__, priority="project")
    crawl = config.crawl
    settings.setdict(
        {
            "USER_AGENT": crawl.user_agent,
            "ROBOTSTXT_OBEY": crawl.obey_robots_txt,
            "CONCURRENT_REQUESTS_PER_DOMAIN": crawl.concurrency_per_domain,
            # A least time, as configured: not Scrapy's 0.5-1.5x randomisation of it.
            "DOWNLOAD_DELAY": crawl.download_delay.total_seconds(),
            **_NO_DELAY_JITTER,
            "DOWNLOAD_TIMEOUT": crawl.download_timeout.total_seconds(),
            "DOWNLOAD_MAXSIZE": crawl.max_page_bytes,
            "AUTOTHROTTLE_ENABLED": crawl.autothrottle,
            "RETRY_TIMES": crawl.retry_times,
            "STORYWATCH_RETRY_BACKOFF": crawl.retry_backoff.total_seconds(),
            # crawl.timeout bounds each source's crawl; the spider closes, items stay.
            "CLOSESPIDER_TIMEOUT": crawl.timeout.total_seconds(),
            "STORYWATCH_CONFIG": config,
        },
        priority="project",
    )
    if overrides:
        settings.setdict(overrides, priority="cmdline")
    return settings
