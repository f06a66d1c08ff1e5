"""Recording crawl runs: a row per source when its child starts, completed when it ends.

The daemon writes every row itself (the child only prints figures), so a child that is
killed, crashes or hangs still leaves a finished row saying so.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from storywatch.storage import Storage
from storywatch.storage.daemon import FAILED, KILLED, OK, RUNNING, CrawlRun
from storywatch.storage.models import Item

# Errors of runs that ended because the daemon stopped, not because of the source: they
# neither count as failures nor end a streak of them.
STOPPED_WITH_DAEMON = "stopped with the daemon"
DAEMON_DIED = "the daemon stopped during the run (crash or power loss)"

# Failures in a row are counted over at most this many recent runs: enough for any
# threshold or backoff a person would configure (2^20 x interval is past any cap).
_STREAK_WINDOW = 50


@dataclass
class RunResult:
    """The outcome and figures of one source in one crawl child."""

    outcome: str
    seen: int = 0
    new: int = 0
    failed: int = 0
    requests: int = 0
    bytes: int = 0
    error: str | None = None
    failures: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def from_summary(cls, data: dict[str, Any]) -> RunResult:
        """Judge one source's figures from `storywatch crawl --format json`.

        A run fails when no listing could be read (site down, feed broken) or the spider
        stopped for another reason than finishing; articles that fail one by one (a 404
        in a feed) are counted, not fatal.
        """
        failures = [(str(url), str(reason)) for url, reason in data.get("failures", [])]
        listed = int(data.get("listed", 0))
        listings_failed = int(data.get("listings_failed", 0))
        finish = data.get("finish_reason")
        outcome = OK
        error: str | None = None
        if listings_failed and not listed:
            outcome = FAILED
            error = "no listing could be read"
        elif finish not in (None, "finished"):
            outcome = FAILED
            error = f"spider stopped: {finish}"
        if outcome == FAILED and failures:
            error = f"{error}: " + "; ".join(f"{u}: {r}" for u, r in failures[:3])
        return cls(
            outcome=outcome,
            seen=listed,
            new=int(data.get("new", 0)),
            failed=int(data.get("failed", 0)) + listings_failed,
            requests=int(data.get("requests", 0)),
            bytes=int(data.get("bytes", 0)),
            error=error[:2000] if error else None,
            failures=failures,
        )


def start_runs(
    storage: Storage, batch: str, sources: Iterable[str], started_at: datetime, pid: int | None
) -> dict[str, int]:
    """Insert a "running" row per source; returns their ids by source name."""
    ids: dict[str, int] = {}
    with storage.session() as session:
        for source in sources:
            run = CrawlRun(batch=batch, source=source, started_at=started_at, outcome=RUNNING,
                           seen=0, new=0, failed=0, requests=0, bytes=0, pid=pid)
            session.add(run)
            session.flush()
            ids[source] = run.id
    return ids


def finish_runs(
    storage: Storage, run_ids: dict[str, int], results: dict[str, RunResult],
    finished_at: datetime,
) -> None:
    with storage.session() as session:
        for source, run_id in run_ids.items():
            result = results[source]
            session.execute(
                update(CrawlRun).where(CrawlRun.id == run_id).values(
                    finished_at=finished_at, outcome=result.outcome, seen=result.seen,
                    new=result.new, failed=result.failed, requests=result.requests,
                    bytes=result.bytes, error=result.error,
                )
            )


def close_orphans(storage: Storage, now: datetime) -> int:
    """Finish rows left "running" by a daemon that died; only one daemon holds the lease."""
    with storage.session() as session:
        done = session.execute(
            update(CrawlRun).where(CrawlRun.outcome == RUNNING).values(
                finished_at=now, outcome=KILLED, error=DAEMON_DIED,
            )
        )
        return int(done.rowcount or 0)  # type: ignore[attr-defined]


def failures_in_row(session: Session, source: str) -> int:
    """Finished runs of the source that did not succeed, counted back from the newest."""
    outcomes = session.execute(
        select(CrawlRun.outcome)
        .where(CrawlRun.source == source, CrawlRun.outcome != RUNNING,
               ~((CrawlRun.outcome == KILLED)
                 & CrawlRun.error.in_([STOPPED_WITH_DAEMON, DAEMON_DIED])))
        .order_by(CrawlRun.started_at.desc(), CrawlRun.id.desc())
        .limit(_STREAK_WINDOW)
    ).scalars()
    count = 0
    for outcome in outcomes:
        if outcome == OK:
            break
        count += 1
    return count


def latest_runs(session: Session) -> dict[str, CrawlRun]:
    """The newest run of every source that has one (running ones included)."""
    newest = (
        select(CrawlRun.source, func.max(CrawlRun.id).label("id"))
        .group_by(CrawlRun.source)
        .subquery()
    )
    rows = session.execute(select(CrawlRun).join(newest, CrawlRun.id == newest.c.id)).scalars()
    return {run.source: run for run in rows}


def items_since(session: Session, since: datetime) -> dict[str, int]:
    """Items stored per source since a moment (by fetch time)."""
    rows = session.execute(
        select(Item.source, func.count(Item.id)).where(Item.fetched_at >= since)
        .group_by(Item.source)
    )
    return {source: int(count) for source, count in rows}
