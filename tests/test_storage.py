"""Storage on the embedded default (SQLite) and the real PostgreSQL server."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import inspect

from storywatch.normalise.item import NewsItem
from storywatch.storage import StorageError, open_storage
from storywatch.storage.repository import (
    count_items,
    iter_items,
    known_url,
    save_item,
    save_judgement,
)


def make_item(n: int = 1, **changes: object) -> NewsItem:
    values = dict(
        url=f"https://news.example/a{n}.html?utm_source=x",
        canonical_url=f"https://news.example/a{n}.html",
        title=f"Article {n}",
        authors=["A. Writer"],
        published_at=datetime(2024, 10, 10, 6, tzinfo=UTC),
        fetched_at=datetime(2024, 10, 11, 7, 30, tzinfo=UTC),
        language="en",
        text="Body text of the article.\nSecond paragraph.",
        source="example",
        discovered_via="feed",
        content_hash=f"hash{n}",
        word_count=7,
        extractor="trafilatura",
        aliases=[f"https://news.example/amp/a{n}.html"],
    )
    values.update(changes)
    return NewsItem(**values)  # type: ignore[arg-type]


def test_schema_is_created_by_migrations(database_url: str) -> None:
    storage = open_storage(database_url)
    tables = set(inspect(storage.engine).get_table_names())
    assert {"items", "item_urls", "judgements", "alembic_version"} <= tables
    storage.dispose()


def test_item_round_trip_keeps_utc_and_lists(database_url: str) -> None:
    storage = open_storage(database_url)
    with storage.session() as session:
        saved = save_item(session, make_item())
    assert saved.created
    with storage.session() as session:
        (row,) = list(iter_items(session))
        data = row.as_json()
    assert data["published_at"] == "2024-10-10T06:00:00Z"
    assert data["authors"] == ["A. Writer"]
    assert data["status"] == "unclassified"
    storage.dispose()


def test_saving_twice_stores_once_and_remembers_every_url_form(database_url: str) -> None:
    storage = open_storage(database_url)
    with storage.session() as session:
        first = save_item(session, make_item())
    with storage.session() as session:
        again = save_item(session, make_item(title="changed"))
        assert not again.created and again.id == first.id
        assert count_items(session) == 1
        assert known_url(session, "https://news.example/amp/a1.html") == first.id
        assert known_url(session, "https://news.example/a1.html") == first.id
        assert known_url(session, "https://news.example/other.html") is None
    storage.dispose()


def test_judgement_upsert_replaces_in_place(database_url: str) -> None:
    storage = open_storage(database_url)
    with storage.session() as session:
        item_id = save_item(session, make_item()).id
        save_judgement(session, item_id=item_id, topic="t", status="offtopic",
                       decided_at=datetime.now(UTC), reasons={"layer": "relevance"})
    with storage.session() as session:
        save_judgement(session, item_id=item_id, topic="t", status="followup",
                       decided_at=datetime.now(UTC), relevance=0.9, reasons={"layer": "novelty"})
    with storage.session() as session:
        rows = [r.as_json("t") for r in iter_items(session, topic="t")]
    assert [(r["status"], r["relevance"], r["reasons"]) for r in rows] == [
        ("followup", 0.9, {"layer": "novelty"})
    ]
    storage.dispose()


def test_failed_transaction_leaves_nothing(database_url: str) -> None:
    storage = open_storage(database_url)
    try:
        with storage.session() as session:
            save_item(session, make_item())
            raise RuntimeError("crash after the insert, before the commit")
    except RuntimeError:
        pass
    with storage.session() as session:
        assert count_items(session) == 0
    storage.dispose()


def test_concurrent_writers_store_each_article_once(database_url: str) -> None:
    open_storage(database_url).dispose()
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def writer() -> None:
        storage = open_storage(database_url)
        try:
            barrier.wait()
            for n in range(20):
                with storage.session() as session:
                    save_item(session, make_item(n))
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            storage.dispose()

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    storage = open_storage(database_url)
    with storage.session() as session:
        assert count_items(session) == 20
    storage.dispose()


def test_a_process_killed_during_the_first_migration_leaves_an_openable_database(
    tmp_path: Path,
) -> None:
    """kill -9 between two CREATE TABLEs of the first migration (what the -m slow loop hit):
    the next start must migrate from scratch, not fail on a half-made schema."""
    import subprocess
    import sys

    url = f"sqlite:///{tmp_path / 'sw.db'}"
    child = (
        "import os\n"
        "from sqlalchemy import event\n"
        "from sqlalchemy.engine import Engine\n"
        "from storywatch.storage import db\n"
        "made = []\n"
        f"engine = db.create_storage_engine({url!r})\n"
        # Every engine: the migration runs on an engine of its own (one transaction).
        "@event.listens_for(Engine, 'after_cursor_execute')\n"
        "def die(conn, cursor, statement, *args):\n"
        "    if statement.lstrip().upper().startswith('CREATE TABLE'):\n"
        "        made.append(statement)\n"
        "        if len(made) == 3: os.kill(os.getpid(), 9)\n"
        "db.Storage(engine).migrate()\n"
    )
    done = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == -9, done.stderr
    storage = open_storage(url)
    try:
        tables = set(inspect(storage.engine).get_table_names())
        assert {"items", "item_urls", "judgements", "alembic_version"} <= tables
    finally:
        storage.dispose()


def test_a_migration_that_fails_half_way_leaves_the_sqlite_database_as_it_was(
        tmp_path: Path) -> None:
    """A first start killed (or failing) mid-migration must not leave tables without their
    alembic_version row: every later start would fail with "table already exists"."""
    path = tmp_path / "sw.db"
    with sqlite3.connect(path) as conn:  # in the way of migration 0003, after 0001 and 0002
        conn.execute("CREATE TABLE http_validators (x INTEGER)")
    with pytest.raises(StorageError, match="http_validators"):
        open_storage(f"sqlite:///{path}")
    with sqlite3.connect(path) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        assert tables == {"http_validators"}, tables  # 0001/0002 rolled back with 0003
        conn.execute("DROP TABLE http_validators")
    storage = open_storage(f"sqlite:///{path}")  # and the next start migrates cleanly
    assert "items" in inspect(storage.engine).get_table_names()
    storage.dispose()
