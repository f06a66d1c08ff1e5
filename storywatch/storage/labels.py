"""Human labels (corrections) and the per-topic judging lock.

A label is a person's judgement of an item for a topic. It lives in its own table so
that `storywatch rescore`, which rewrites every machine judgement, can never overwrite
it; what a reader sees (`items`, `explain`, the digest) is the label when there is one.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, select, text
from sqlalchemy.orm import Session

from storywatch.storage.models import Label, TopicLock
from storywatch.storage.repository import built_once, dialect_insert

STATUSES = ("followup", "duplicate", "offtopic")


def save_label(session: Session, *, item_id: int, topic: str, status: str,
               labelled_at: datetime, note: str | None = None) -> None:
    """Set the label of (item, topic); a person may change their mind.

    A changed label is a new row (delete, then insert): classifiers read labels back by
    increasing id, so a change must look new to them.
    """
    if status not in STATUSES:
        raise ValueError(f"label {status!r} is not one of {', '.join(STATUSES)}")
    session.execute(delete(Label).where(Label.item_id == item_id, Label.topic == topic))
    session.add(Label(item_id=item_id, topic=topic, status=status, labelled_at=labelled_at,
                      note=note))
    session.flush()


def labels_of_items(session: Session, item_ids: Iterable[int]) -> dict[tuple[int, str], str]:
    """(item id, topic) -> labelled status, for a page of items."""
    ids = list(item_ids)
    if not ids:
        return {}
    return {(item_id, topic): status for item_id, topic, status in session.execute(
        select(Label.item_id, Label.topic, Label.status).where(Label.item_id.in_(ids)))}


def lock_topics(session: Session, topics: Iterable[str]) -> None:
    """Serialise judging of these topics across processes until the transaction ends.

    Must be the transaction's first statement on SQLite: a transaction that has read
    before its first write works on an old snapshot. Topics are locked in name order so
    that two transactions never wait for each other in a cycle.
    """
    names = sorted(set(topics))
    if not names:
        return
    if session.get_bind().dialect.name == "postgresql":
        for name in names:
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                            {"key": _advisory_key(name)})
        return
    statement = built_once(session, "topic lock", _lock_upsert)
    for name in names:
        session.connection().execute(statement, {"topic": name})


def _lock_upsert(session: Session) -> Any:
    return dialect_insert(session, TopicLock).values(
        topic=bindparam("topic"), writes=1).on_conflict_do_update(
        index_elements=["topic"], set_={"writes": TopicLock.writes + 1})


def _advisory_key(topic: str) -> int:
    # A fixed 31-bit namespace tag in the high bits keeps these keys apart from the
    # migration and daemon locks; crc32 of the name in the low bits.
    return (0x5707 << 32) | zlib.crc32(topic.encode("utf-8"))
