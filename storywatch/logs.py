"""Logging set-up shared by the CLI, the crawl child processes and the daemon.

One root handler, on stderr, text or JSON lines. Scrapy is told not to install its own,
so each record is printed once and `--log-level` means the same for Scrapy's loggers.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

# Loggers that repeat, with a traceback, a failure the spiders already report against its URL.
_REPEATERS = {
    "scrapy.downloadermiddlewares.robotstxt": logging.CRITICAL,
    "scrapy.core.scraper": logging.CRITICAL,
    "scrapy.downloadermiddlewares.retry": logging.WARNING,
    "protego": logging.WARNING,
    "trafilatura": logging.ERROR,
    "htmldate": logging.ERROR,
    "readability": logging.ERROR,
}


class _QuietRepeaters(logging.Filter):
    """A filter, not logger levels: Scrapy's dictConfig resets child loggers' levels."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, floor in _REPEATERS.items():
            if record.name == name or record.name.startswith(name + "."):
                return record.levelno >= floor
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        data.update(getattr(record, "fields", {}) or {})
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False, default=str)


def setup_logging(level: str = "WARNING", fmt: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter() if fmt == "json"
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    # The level sits on the handler too: Scrapy resets the root logger's level when it starts.
    handler.setLevel(level)
    handler.addFilter(_QuietRepeaters())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
