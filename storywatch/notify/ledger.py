"""The send ledger: at-most-once delivery of each item to each subscriber.

Protocol, per digest:
1. claim: one transaction writes a "sending" row per (subscriber, item). It is an upsert
   that only takes over rows in state "failed", and RETURNING says which items this
   process really claimed, so two processes sending at once never both mail an item.
2. the SMTP transaction.
3. mark: "sent" (or "failed" when the server provably did not take the message, or
   "unknown" when the connection broke after the message was handed over).

A process that dies between 2 and 3 leaves "sending" rows. They are never sent again:
the message may well have been delivered, and a missed article is a smaller harm than
the same article mailed twice to a reader who trusts the digest to be exact. `reconcile`
turns them into "unknown" (possibly sent) at the next start so they are visible.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable
from datetime import datetime, timedelta
from functools import cache
from typing import Any, cast

import psutil
from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from storywatch.storage.notify import DigestDelivery
from storywatch.storage.repository import dialect_insert


@cache
def owner() -> str:
    """host:pid:start-time of this process: enough to tell, later, that it has died even
    when the pid has been reused."""
    started = int(psutil.Process(os.getpid()).create_time())
    return f"{socket.gethostname()}:{os.getpid()}:{started}"[:200]


def _owner_is_dead(owner_value: str) -> bool:
    parts = owner_value.rsplit(":", 2)
    if len(parts) != 3:
        return False
    host, pid_text, started_text = parts
    if host != socket.gethostname():
        return False  # another host's process: only the age rule can decide
    try:
        pid, started = int(pid_text), int(started_text)
    except ValueError:
        return False
    try:
        return int(psutil.Process(pid).create_time()) != started
    except psutil.NoSuchProcess:
        return True
    except psutil.Error:
        return False


def claim(session: Session, *, subscriber_id: int, topic: str, item_ids: Iterable[int],
          digest_id: str, now: datetime) -> set[int]:
    """Write "sending" rows for the items; return the ids this process may now mail."""
    me = owner()
    rows = [
        {"subscriber_id": subscriber_id, "item_id": item_id, "topic": topic,
         "digest_id": digest_id, "state": "sending", "owner": me, "attempts": 1,
         "error": None, "updated_at": now}
        for item_id in dict.fromkeys(item_ids)
    ]
    if not rows:
        return set()
    # One statement executed for many rows (not a multi-VALUES literal): SQLAlchemy caches
    # its compiled form and batches the rows, keeping RETURNING; compiling a fresh
    # multi-VALUES insert per digest cost more than the SMTP transaction (benchmarks/).
    table = DigestDelivery.__table__
    statement = dialect_insert(session, table)
    statement = statement.on_conflict_do_update(
        index_elements=["subscriber_id", "item_id"],
        set_={
            "digest_id": statement.excluded.digest_id,
            "topic": statement.excluded.topic,
            "state": "sending",
            "owner": statement.excluded.owner,
            "attempts": table.c.attempts + 1,
            "error": None,
            "updated_at": statement.excluded.updated_at,
        },
        where=table.c.state == "failed",
    ).returning(table.c.item_id)
    return set(session.execute(statement, rows).scalars())


def mark(session: Session, digest_id: str, state: str, now: datetime,
         error: str | None = None) -> int:
    """Record the outcome of one digest's SMTP transaction for all its items."""
    assert state in ("sent", "failed", "unknown")
    result = session.execute(
        update(DigestDelivery)
        .where(DigestDelivery.digest_id == digest_id)
        .values(state=state, error=(error or None) and error[:2000], updated_at=now)
    )
    return cast(CursorResult[Any], result).rowcount or 0


def reconcile(session: Session, now: datetime, grace: timedelta) -> int:
    """Turn "sending" rows left by dead processes into "unknown" (possibly sent).

    A row is abandoned when its owner ran on this host and is gone, or when it is older
    than `grace` (the longest a live sender can take), whatever host wrote it.
    """
    stale = []
    rows = session.execute(
        select(DigestDelivery.id, DigestDelivery.owner, DigestDelivery.updated_at)
        .where(DigestDelivery.state == "sending")
    ).all()
    dead_cache: dict[str, bool] = {}
    for row_id, row_owner, updated_at in rows:
        if row_owner not in dead_cache:
            dead_cache[row_owner] = _owner_is_dead(row_owner)
        if dead_cache[row_owner] or updated_at < now - grace:
            stale.append(row_id)
    if stale:
        session.execute(
            update(DigestDelivery).where(DigestDelivery.id.in_(stale))
            .values(state="unknown", updated_at=now,
                    error="found 'sending' after the sender stopped: possibly sent, not resent")
        )
    return len(stale)


def ledger_counts(session: Session) -> dict[str, int]:
    from sqlalchemy import func

    rows = session.execute(
        select(DigestDelivery.state, func.count()).group_by(DigestDelivery.state)
    ).all()
    return {state: count for state, count in rows}
