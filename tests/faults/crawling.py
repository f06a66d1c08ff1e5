"""Helpers for tests that crawl as a user does: a config file, a child process, the DB."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, inspect, text

from tests.conftest import REPO


def toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_config(
    path: Path,
    database_url: str,
    sources: dict[str, str],
    *,
    download_timeout: str = "2s",
    max_page_bytes: int = 5 * 1024 * 1024,
    extra_crawl: str = "",
) -> Path:
    """A config whose sources are {name: feed URL}; the crawl section suits a local server."""
    lines = [
        "[storage]", f"url = {toml_string(database_url)}", "",
        "[crawl]",
        "allow_private_networks = true  # the fault server is on loopback",
        "autothrottle = false",
        "concurrency_per_domain = 8",
        f'download_timeout = "{download_timeout}"',
        f"max_page_bytes = {max_page_bytes}",
        extra_crawl,
    ]
    for name, url in sources.items():
        lines += ["", "[[sources]]", f"name = {toml_string(name)}", 'kind = "feed"',
                  f"url = {toml_string(url)}"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def crawl_command(config: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "storywatch", "--config", str(config), "crawl", *args]


def child_env() -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("STORYWATCH_CONFIG", None)
    return env


def memory_limit(limit_bytes: int) -> Callable[[], None]:
    """A preexec_fn capping the child's address space: a bomb that escapes fails the child."""

    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))

    return apply


@dataclass
class ChildResult:
    code: int
    stdout: str
    stderr: str
    seconds: float


def run_child(command: Sequence[str], *, timeout: float = 240,
              memory_bytes: int | None = None) -> ChildResult:
    started = time.monotonic()
    done = subprocess.run(
        list(command), capture_output=True, text=True, timeout=timeout, env=child_env(),
        cwd=REPO, preexec_fn=memory_limit(memory_bytes) if memory_bytes else None,
    )
    return ChildResult(done.returncode, done.stdout, done.stderr, time.monotonic() - started)


def stored_items(database_url: str) -> list[dict[str, object]]:
    """Every stored item as {canonical_url, content_hash, id}, read with a fresh engine."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table("items"):
                return []  # killed before the first migration finished
            rows = conn.execute(text(
                "SELECT id, canonical_url, content_hash FROM items ORDER BY id")).mappings()
            return [dict(row) for row in rows]
    finally:
        engine.dispose()


def duplicate_rows(database_url: str) -> dict[str, int]:
    """Stored rows that say the same article twice, counted without the unique constraint.

    The constraint on items.canonical_url makes "0 duplicated canonical URLs" true by
    construction, so this counts what it does not cover: items per URL as fetched, items
    per body hash (every test article has its own text), and URL forms whose item is gone.
    Returns {what: rows} for every key held by more than one row (or any orphan).
    """
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table("items"):
                return {}
            found: dict[str, int] = {}
            for column in ("url", "content_hash"):
                rows = conn.execute(text(
                    f"SELECT {column}, count(*) FROM items GROUP BY {column} "
                    "HAVING count(*) > 1"))
                found |= {f"{column}={key}": int(n) for key, n in rows}
            orphans = conn.execute(text(
                "SELECT count(*) FROM item_urls WHERE item_id NOT IN (SELECT id FROM items)"
            )).scalar_one()
            if orphans:
                found["item_urls without an item"] = int(orphans)
            return found
    finally:
        engine.dispose()


def requests_per_path(paths: Sequence[str]) -> dict[str, int]:
    """How many times the server was asked for each path (query strings kept)."""
    counts: dict[str, int] = {}
    for path in paths:
        counts[path] = counts.get(path, 0) + 1
    return counts


def count_items(database_url: str) -> int:
    """Items stored so far; 0 while the schema does not exist yet."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM items")).scalar_one())
    except Exception:  # the first crawl has not created the table yet
        return 0
    finally:
        engine.dispose()


def failures_in(output: str) -> dict[str, str]:
    """The crawl summary's `failed URL: reason` lines as {url: reason}."""
    found = {}
    for line in output.splitlines():
        line = line.strip()
        if line.startswith("failed http"):
            url, _, reason = line.removeprefix("failed ").partition(": ")
            found[url] = reason
    return found


def dump(obj: object) -> str:
    return json.dumps(obj, indent=1, default=str)
