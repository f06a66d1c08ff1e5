"""Migration 0008's full-text index: filled from the items stored before it, and kept in
step with every later insert, update and delete (SQLite triggers, PostgreSQL's generated
column), on both backends."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import delete, update

from storywatch.storage import Storage
from storywatch.storage.browse import ItemFilter, list_entries
from storywatch.storage.db import Storage as DbStorage
from storywatch.storage.db import alembic_config, create_storage_engine, open_storage
from storywatch.storage.models import Item
from storywatch.storage.repository import save_judgement

TOPIC = "t"


def add(storage: Storage, key: str, title: str, text: str) -> int:
    with storage.session() as session:
        item = Item(canonical_url=f"https://example.org/{key}", url=f"https://example.org/{key}",
                    title=title, authors=[], published_at=datetime(2026, 1, 1, tzinfo=UTC),
                    fetched_at=datetime(2026, 1, 1, tzinfo=UTC), language="en", text=text,
                    source="s", discovered_via="feed", word_count=len(text.split()),
                    content_hash=hashlib.sha256(text.encode()).hexdigest(), extractor="test")
        session.add(item)
        session.flush()
        save_judgement(session, item_id=item.id, topic=TOPIC, status="followup",
                       decided_at=datetime(2026, 1, 1, tzinfo=UTC))
        return item.id


def found(storage: Storage, query: str) -> set[int]:
    with storage.session() as session:
        page = list_entries(session, ItemFilter(topic=TOPIC, status="all", search=query))
    return {entry.id for entry in page.entries}


def test_the_index_is_backfilled_and_kept_in_step(database_url: str) -> None:
    from alembic import command

    old = DbStorage(create_storage_engine(database_url))
    config = alembic_config()
    with old.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0007")
    before = add(old, "before", "Lighthouse keeper retires", "The keeper of the lighthouse "
                 "retired after forty years.")
    old.dispose()

    storage = open_storage(database_url)  # migrates to 0008: the stored item is indexed
    try:
        assert found(storage, "lighthouse") == {before}
        assert found(storage, "KEEPER retired") == {before}  # every word, any case
        after = add(storage, "after", "Ferry timetable changes", "Ferries leave earlier.")
        assert found(storage, "ferry") == {after}
        with storage.session() as session:
            session.execute(update(Item).where(Item.id == after).values(
                title="Bridge opens", text="The new bridge opened to traffic."))
        assert found(storage, "ferry") == set()
        assert found(storage, "bridge") == {after}
        with storage.session() as session:
            session.execute(delete(Item).where(Item.id == before))
        assert found(storage, "lighthouse") == set()
        assert found(storage, "") == {after}  # no words: no search filter
    finally:
        storage.dispose()


def test_common_words_are_searched_by_walking_the_list(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The other plan (storage.browse.DENSE_MATCHES, SQLite only: PostgreSQL's planner
    chooses for itself): same answers."""
    from storywatch.storage import browse

    storage = open_storage(f"sqlite:///{tmp_path / 'sw.db'}")
    try:
        ids = [add(storage, f"k{n}", f"Quay report {n}", f"Cranes idle on day {n}.")
               for n in range(4)]
        other = add(storage, "other", "Weather", "Rain all week.")
        monkeypatch.setattr(browse, "DENSE_MATCHES", 2)
        with storage.session() as session:  # the plan under test is the one chosen
            assert browse._plan(session, ItemFilter(topic=TOPIC, search="cranes idle")).dense
        assert found(storage, "cranes idle") == set(ids)
        assert found(storage, "rain") == {other}
    finally:
        storage.dispose()
