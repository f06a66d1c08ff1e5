"""URL claims and worker rows, on SQLite and the real PostgreSQL: the rules that keep one
article to one worker, without processes or a broker (tests/test_cluster.py has those)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from storywatch.cluster.claims import CLAIMED, KNOWN, TAKEN, UrlClaims
from storywatch.cluster.registry import (
    Registration,
    list_workers,
    reap_dead_on_this_host,
    release_claims_of_dead,
)
from storywatch.normalise.item import NewsItem
from storywatch.storage import Storage, open_storage
from storywatch.storage.repository import save_item
from tests.conftest import run_cli

URL = "https://news.example/a/1"
TTL = timedelta(minutes=20)


def _storage(database_url: str) -> Storage:
    return open_storage(database_url)


def test_a_claimed_url_is_refused_to_another_live_worker(database_url: str) -> None:
    storage = _storage(database_url)
    try:
        one, two = (Registration(storage, timedelta(seconds=5)) for _ in range(2))
        one.register()
        two.register()
        first, second = UrlClaims(storage, one.id, TTL), UrlClaims(storage, two.id, TTL)
        assert first.claim(URL) == CLAIMED
        assert second.claim(URL) == TAKEN
        assert first.claim(URL) == CLAIMED  # ours again (a retry of the same request)
        assert first.release_all() == 1
        assert second.claim(URL) == CLAIMED
    finally:
        storage.dispose()


def test_a_stored_article_is_known_without_any_claim(database_url: str) -> None:
    storage = _storage(database_url)
    try:
        worker = Registration(storage, timedelta(seconds=5))
        worker.register()
        with storage.session() as session:
            save_item(session, NewsItem(
                url=URL, canonical_url=URL, title="t", authors=[], published_at=None,
                fetched_at=datetime.now(UTC), language="en", text="some words " * 20,
                source="s", discovered_via="feed", content_hash="0" * 64, word_count=40))
        assert UrlClaims(storage, worker.id, TTL).claim(URL) == KNOWN
    finally:
        storage.dispose()


def test_the_claims_of_a_dead_or_expired_worker_are_free(database_url: str) -> None:
    storage = _storage(database_url)
    try:
        live = Registration(storage, timedelta(seconds=5))
        live.register()
        # A worker of this host whose process is gone (pid 2**22 + 1 is above pid_max's
        # usual default, so no process has it).
        dead = Registration(storage, timedelta(seconds=5), worker_id=f"{live.host}:4194305:x")
        dead.register()
        assert UrlClaims(storage, dead.id, TTL).claim(URL) == CLAIMED
        assert UrlClaims(storage, live.id, TTL).claim(URL) == TAKEN
        assert reap_dead_on_this_host(storage) == [dead.id]
        assert UrlClaims(storage, live.id, TTL).claim(URL) == CLAIMED  # taken over
        # An expired claim is free even when its owner's row still says alive.
        assert UrlClaims(storage, dead.id, TTL).claim("https://news.example/b",
                                                       now=datetime.now(UTC) - TTL * 2) == CLAIMED
        assert UrlClaims(storage, live.id, TTL).claim("https://news.example/b") == CLAIMED
        assert release_claims_of_dead(storage) == 0  # both claims are the live worker's now
        alive = {w.id: w.alive(datetime.now(UTC)) for w in list_workers(storage)}
        assert alive == {live.id: True, dead.id: False}
    finally:
        storage.dispose()


def test_many_workers_racing_for_one_url_give_it_to_exactly_one(database_url: str) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("a cluster's store is PostgreSQL; SQLite serialises writers anyway")
    storage = _storage(database_url)
    try:
        workers = [Registration(storage, timedelta(seconds=5)) for _ in range(8)]
        for worker in workers:
            worker.register()
        results: list[str] = []
        start = threading.Barrier(len(workers))

        def race(owner: str) -> None:
            claims = UrlClaims(storage, owner, TTL)
            start.wait()
            results.append(claims.claim(URL))

        threads = [threading.Thread(target=race, args=(w.id,)) for w in workers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(results) == [CLAIMED] + [TAKEN] * (len(workers) - 1)
    finally:
        storage.dispose()


def test_a_worker_without_a_cluster_section_says_what_to_add(tmp_path: Path) -> None:
    config = tmp_path / "storywatch.toml"
    config.write_text(f'[storage]\nurl = "sqlite:///{tmp_path / "db.sqlite"}"\n',
                      encoding="utf-8")
    result = run_cli("worker", config=config, timeout=60)
    assert result.code == 2
    assert "no [cluster] section" in result.stderr and "broker_url" in result.stderr


def test_a_bad_broker_url_names_the_file_and_the_field(tmp_path: Path) -> None:
    config = tmp_path / "storywatch.toml"
    config.write_text('[cluster]\nbroker_url = "http://127.0.0.1:5672/"\n', encoding="utf-8")
    result = run_cli("worker", config=config, timeout=60)
    assert result.code == 2
    assert str(config) in result.stderr and "cluster.broker_url" in result.stderr
