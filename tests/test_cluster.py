"""Cluster mode on the real broker (RabbitMQ) and PostgreSQL, with workers as processes.

- the same world crawled by 1 worker and by 4 gives the same statuses;
- a worker killed with -9 mid-crawl loses nothing: its job returns to the queue, the next
  worker takes over its source lease and its claims, every article is stored once;
- `storywatch status` shows the workers and the queue depth;
- claims: two workers never both get one URL; a dead worker's claims are free at once.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from storywatch.demo.config import DEMO_FEEDS, demo_config_toml
from storywatch.demo.hosts import HostsWorld
from storywatch.storage import open_storage
from storywatch.storage.daemon import OK
from tests.conftest import POSTGRES_URL, run_cli, wait_until
from tests.faults.cluster import (
    Cluster,
    cluster_toml,
    queue_name,
    running_cluster,
    statuses,
    wait_for_runs,
)
from tests.faults.crawling import toml_string

__all__ = ["queue_name"]  # the fixture, imported so pytest finds it here

pytestmark = pytest.mark.skipif(not POSTGRES_URL, reason="STORYWATCH_TEST_POSTGRES_URL is not set")


def _demo_config(path: Path, base_url: str, database_url: str, queue: str) -> Path:
    toml = demo_config_toml(base_url, database_url, feeds=DEMO_FEEDS, discovery={})
    path.write_text(toml + cluster_toml(queue), encoding="utf-8")
    return path


def _crawl_world(workers: int, base_url: str, database_url: str, queue: str,
                 workdir: Path) -> dict[str, str]:
    workdir.mkdir(parents=True, exist_ok=True)
    config = _demo_config(workdir / "storywatch.toml", base_url, database_url, queue)
    open_storage(database_url).dispose()  # the schema, before anyone polls it
    engine = create_engine(database_url)
    try:
        with running_cluster(config, workdir / "logs") as cluster:
            cluster.start_workers(workers)
            cluster.start_scheduler()
            outcomes = wait_for_runs(engine, list(DEMO_FEEDS), cluster)
            used = _workers_that_ran(engine)
    finally:
        engine.dispose()
    assert outcomes["world-rss"] == OK, outcomes
    if workers > 1:  # the runs were really spread
        assert len(used) > 1, used
    return statuses(database_url)


def _workers_that_ran(engine: object) -> set[str]:
    with engine.connect() as conn:  # type: ignore[attr-defined]
        return {w for (w,) in conn.execute(text(
            "SELECT DISTINCT worker FROM crawl_runs WHERE worker IS NOT NULL"))}


@pytest.fixture
def second_postgres_url(postgres_url: str) -> Iterator[str]:
    """Another fresh schema beside `postgres_url`."""
    import uuid

    assert POSTGRES_URL
    schema = f"sw_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in POSTGRES_URL else "?"
    yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def test_one_worker_and_four_workers_give_the_same_statuses(
        world: object, postgres_url: str, second_postgres_url: str, queue_name: str,
        tmp_path: Path) -> None:
    base = world.base_url  # type: ignore[attr-defined]
    one = _crawl_world(1, base, postgres_url, queue_name, tmp_path / "one")
    four = _crawl_world(4, base, second_postgres_url, queue_name, tmp_path / "four")
    assert one, "nothing was stored"
    assert set(one) == set(four)
    assert "unjudged" not in one.values()
    differing = {url: (one[url], four[url]) for url in one if one[url] != four[url]}
    assert differing == {}
