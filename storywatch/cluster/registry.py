"""Workers' rows in the shared store: registered, renewed every heartbeat, reaped when dead.

A worker is alive while its row's lease has not expired (three missed heartbeats). A
worker on this host whose process is gone is dead at once: its claims are released
without waiting, which is what lets a job redelivered after kill -9 fetch the articles the
dead worker had claimed but not stored.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update

from storywatch.cluster.claims import release_claims
from storywatch.scheduler.lock import process_gone
from storywatch.storage import Storage
from storywatch.storage.cluster import ClusterWorker, UrlClaim

MISSED_HEARTBEATS = 3


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class WorkerInfo:
    id: str
    host: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime
    expires_at: datetime
    current_job: str | None
    jobs_done: int

    def alive(self, now: datetime) -> bool:
        return self.expires_at > now


class Registration:
    """This worker's row: `register` once, `beat` every heartbeat, `leave` at a clean stop."""

    def __init__(self, storage: Storage, heartbeat: timedelta, worker_id: str | None = None
                 ) -> None:
        self.storage = storage
        self.ttl = heartbeat * MISSED_HEARTBEATS
        self.id = worker_id or new_worker_id()
        self.host, pid, _ = self.id.split(":", 2)
        self.pid = int(pid)

    def register(self) -> None:
        now = datetime.now(UTC)
        with self.storage.session() as session:
            session.merge(ClusterWorker(id=self.id, host=self.host, pid=self.pid, started_at=now,
                                        heartbeat_at=now, expires_at=now + self.ttl,
                                        current_job=None, jobs_done=0))

    def beat(self, job: str | None = None, *, set_job: bool = False) -> None:
        """Renew the lease; with set_job, also say what the worker is doing (None: idle)."""
        now = datetime.now(UTC)
        values: dict[str, object] = {"heartbeat_at": now, "expires_at": now + self.ttl}
        if set_job:
            values["current_job"] = job
        with self.storage.session() as session:
            done = session.execute(update(ClusterWorker).where(ClusterWorker.id == self.id)
                                   .values(**values))
            if not done.rowcount:  # type: ignore[attr-defined]
                # Deleted meanwhile (forget_dead after a long database outage): come back.
                session.add(ClusterWorker(id=self.id, host=self.host, pid=self.pid,
                                          started_at=now, heartbeat_at=now,
                                          expires_at=now + self.ttl,
                                          current_job=job if set_job else None, jobs_done=0))

    def job_done(self) -> None:
        with self.storage.session() as session:
            session.execute(update(ClusterWorker).where(ClusterWorker.id == self.id).values(
                current_job=None, jobs_done=ClusterWorker.jobs_done + 1))

    def leave(self) -> None:
        release_claims(self.storage, self.id)
        with self.storage.session() as session:
            session.execute(delete(ClusterWorker).where(ClusterWorker.id == self.id))


def reap_dead_on_this_host(storage: Storage, now: datetime | None = None) -> list[str]:
    """Expire the rows of workers of this host whose process is gone (or is another, younger
    process with a reused pid); returns their ids. Workers of other hosts expire by TTL."""
    now = now or datetime.now(UTC)
    host = socket.gethostname()
    with storage.session() as session:
        rows = session.execute(
            select(ClusterWorker.id, ClusterWorker.pid, ClusterWorker.started_at)
            .where(ClusterWorker.host == host, ClusterWorker.expires_at > now)).all()
        dead = [row.id for row in rows if process_gone(row.pid, row.started_at)]
        if dead:
            session.execute(update(ClusterWorker).where(ClusterWorker.id.in_(dead))
                            .values(expires_at=now, current_job=None))
    return dead


def release_claims_of_dead(storage: Storage, now: datetime | None = None) -> int:
    """Delete the URL claims of workers whose lease expired (or whose row is gone): they
    are free to take already; deleting them keeps url_claims as small as the work in hand."""
    now = now or datetime.now(UTC)
    alive = select(ClusterWorker.id).where(ClusterWorker.expires_at > now)
    with storage.session() as session:
        done = session.execute(delete(UrlClaim).where(UrlClaim.owner.not_in(alive)))
        return int(done.rowcount or 0)  # type: ignore[attr-defined]


def list_workers(storage: Storage) -> list[WorkerInfo]:
    with storage.session() as session:
        rows = session.execute(select(ClusterWorker).order_by(ClusterWorker.started_at)).scalars()
        return [WorkerInfo(w.id, w.host, w.pid, w.started_at, w.heartbeat_at, w.expires_at,
                           w.current_job, w.jobs_done) for w in rows]


def forget_dead(storage: Storage, older_than: timedelta, now: datetime | None = None) -> int:
    """Delete rows of workers dead for longer than `older_than` (status keeps recent ones)."""
    now = now or datetime.now(UTC)
    with storage.session() as session:
        done = session.execute(delete(ClusterWorker)
                               .where(ClusterWorker.expires_at < now - older_than))
        return int(done.rowcount or 0)  # type: ignore[attr-defined]
