"""One daemon per database: a lease row renewed by a heartbeat.

A row rather than a file lock or a PostgreSQL advisory lock because it works the same on
both backends and across hosts (two containers sharing one PostgreSQL), and because the
same row tells `storywatch status` whether a daemon is alive and where it runs.
The lease is taken with one conditional upsert, so two daemons starting at the same
moment cannot both win.

Each take increments the row's fencing token. A daemon checks `valid()` (its token is still
the row's, the lease has not expired, and its own last renewal is recent enough) before it
launches a crawl or a task: a daemon whose heartbeat failed while another took over stops
launching work at once, instead of at its next successful heartbeat.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psutil
from sqlalchemy import delete, select, update

from storywatch.storage import Storage
from storywatch.storage.daemon import DaemonLease
from storywatch.storage.repository import dialect_insert

LEASE_NAME = "daemon"
# A lease is dead after this many missed heartbeats: one late renewal (a slow disk, a
# busy database) must not let a second daemon in.
MISSED_HEARTBEATS = 3


class LeaseHeld(Exception):
    """Another daemon holds the lease on this database."""


@dataclass(frozen=True)
class LeaseInfo:
    owner: str
    host: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime
    expires_at: datetime

    def alive(self, now: datetime) -> bool:
        return self.expires_at > now

    def describe(self, now: datetime) -> str:
        ago = max(0, int((now - self.heartbeat_at).total_seconds()))
        return (f"pid {self.pid} on {self.host}, started {self.started_at:%Y-%m-%d %H:%M:%S} "
                f"UTC, last heartbeat {ago} s ago")


def read_lease(storage: Storage, name: str = LEASE_NAME) -> LeaseInfo | None:
    with storage.session() as session:
        row = session.get(DaemonLease, name)
        if row is None:
            return None
        return LeaseInfo(row.owner, row.host, row.pid, row.started_at, row.heartbeat_at,
                         row.expires_at)


class Lease:
    """The lease of this process; `acquire` once, `renew` every heartbeat, `release` at exit."""

    def __init__(self, storage: Storage, heartbeat: timedelta, name: str = LEASE_NAME) -> None:
        self.storage = storage
        # "daemon", or in cluster mode "source:…": one worker crawls a source at a time.
        self.name = name
        self.ttl = heartbeat * MISSED_HEARTBEATS
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.owner = f"{self.host}:{self.pid}:{uuid.uuid4().hex[:12]}"
        self.token: int | None = None  # the fencing token of our take, once acquired
        # time.monotonic() after which we cannot know that the lease is still ours (no
        # renewal succeeded within a lease's lifetime): wall-clock jumps do not move it.
        self._deadline = 0.0

    def acquire(self, now: datetime | None = None) -> None:
        """Take the lease if free, expired, or held by a dead process on this host."""
        now = now or datetime.now(UTC)
        if self._take(now):
            return
        current = read_lease(self.storage, self.name)
        if current is not None and self._holder_is_dead(current) \
                and self._take(now, steal=current.owner):
            return
        current = read_lease(self.storage, self.name)
        if current is None:  # released between our two statements: try once more
            if self._take(now):
                return
            current = read_lease(self.storage, self.name)
        detail = current.describe(now) if current else "unknown holder"
        wait = int(self.ttl.total_seconds())
        raise LeaseHeld(
            f"another storywatch daemon is running on this database ({detail}); stop it "
            f"first, or if it died on another host, wait until its lease expires ({wait} s "
            "after its last heartbeat)"
        )

    def _holder_is_dead(self, lease: LeaseInfo) -> bool:
        """Only provable on this host: its pid is gone, or now belongs to a younger process.

        The second case is a restarted container: the new daemon is pid 1 again, as the
        one that held the lease before the container was killed.
        """
        return lease.host == self.host and process_gone(lease.pid, lease.started_at)

    def _take(self, now: datetime, steal: str | None = None) -> bool:
        values = {"name": self.name, "owner": self.owner, "host": self.host, "pid": self.pid,
                  "started_at": now, "heartbeat_at": now, "expires_at": now + self.ttl}
        with self.storage.session() as session:
            insert = dialect_insert(session, DaemonLease)
            takeable = (DaemonLease.expires_at < now) | (DaemonLease.owner == self.owner)
            if steal is not None:
                takeable = takeable | (DaemonLease.owner == steal)
            statement = insert.values(**values, token=1).on_conflict_do_update(
                index_elements=["name"],
                set_={**{k: v for k, v in values.items() if k != "name"},
                      "token": DaemonLease.token + 1},
                where=takeable,
            ).returning(DaemonLease.owner, DaemonLease.token)
            row = session.execute(statement).first()
        if row is None or row.owner != self.owner:
            return False
        self.token = int(row.token)
        self._deadline = time.monotonic() + self.ttl.total_seconds()
        return True

    def renew(self, now: datetime | None = None) -> bool:
        """Push the expiry forward; False means the lease was lost (taken over or deleted)."""
        now = now or datetime.now(UTC)
        with self.storage.session() as session:
            done = session.execute(
                update(DaemonLease)
                .where(DaemonLease.name == self.name, DaemonLease.owner == self.owner,
                       DaemonLease.token == self.token)
                .values(heartbeat_at=now, expires_at=now + self.ttl)
            )
            renewed = bool(done.rowcount)  # type: ignore[attr-defined]
        if renewed:
            self._deadline = time.monotonic() + self.ttl.total_seconds()
        return renewed

    def valid(self, now: datetime | None = None) -> bool:
        """The fence, checked before launching anything: True only while the lease is
        provably ours (our token is the row's and it has not expired, and a renewal of ours
        succeeded within one lease lifetime). Raises SQLAlchemyError when the database
        cannot be asked; the caller launches nothing then either."""
        if self.token is None or time.monotonic() >= self._deadline:
            return False
        now = now or datetime.now(UTC)
        with self.storage.session() as session:
            row = session.execute(
                select(DaemonLease.owner, DaemonLease.token, DaemonLease.expires_at)
                .where(DaemonLease.name == self.name)
            ).first()
        return (row is not None and row.owner == self.owner and row.token == self.token
                and row.expires_at > now)

    def release(self) -> None:
        with self.storage.session() as session:
            session.execute(
                delete(DaemonLease).where(
                    DaemonLease.name == self.name, DaemonLease.owner == self.owner
                )
            )

    def held(self) -> bool:
        with self.storage.session() as session:
            owner = session.execute(
                select(DaemonLease.owner).where(DaemonLease.name == self.name)
            ).scalar()
        return owner == self.owner


def process_gone(pid: int, started_at: datetime) -> bool:
    """The process that started at `started_at` with this pid (on this host) is gone: no
    such pid, or the pid now belongs to a younger process (a reused pid, a restarted
    container's pid 1)."""
    try:
        created = datetime.fromtimestamp(psutil.Process(pid).create_time(), UTC)
    except psutil.NoSuchProcess:
        return True
    # A second of slack: create_time and the lease's clock are read differently.
    return created > started_at + timedelta(seconds=1)
