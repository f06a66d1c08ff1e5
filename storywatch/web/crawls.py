""""Crawl now" outside the daemon: the source is crawled in a child process, recorded in
crawl_runs like a scheduled run (the daemon's own CrawlRunner does both)."""

from __future__ import annotations

import threading

from storywatch.config import Config
from storywatch.scheduler.children import CrawlRunner, RunnerSettings, crawl_command
from storywatch.storage import Storage


class ChildCrawls:
    def __init__(self, config: Config, storage: Storage, *, log_level: str = "WARNING",
                 log_format: str = "text") -> None:
        d = config.daemon
        self.config = config
        self.runner = CrawlRunner(
            storage,
            RunnerSettings(timeout=config.crawl.timeout, max_children=d.max_children,
                           batch_window=d.batch_window, batch_max=d.batch_max),
            lambda sources: crawl_command(sources, config_path=config.path,
                                          log_level=log_level, log_format=log_format))
        self._busy: set[str] = set()
        self._lock = threading.Lock()

    def start(self, source: str) -> str:
        """Start a crawl of the source unless one started here is still running."""
        with self._lock:
            if source in self._busy:
                return f"{source} is being crawled already"
            self._busy.add(source)
        threading.Thread(target=self._run, args=(source,), name=f"crawl-{source}",
                         daemon=True).start()
        return f"started a crawl of {source}"

    def _run(self, source: str) -> None:
        try:
            self.runner.run_source(source, alone=True)
        finally:
            with self._lock:
                self._busy.discard(source)

    def stop(self) -> None:
        self.runner.stop_starting()
        self.runner.stop_children()
