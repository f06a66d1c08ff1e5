"""Tables of the daemon: one row per source per crawl run, and the daemon's lease.

APScheduler's own job table (``apscheduler_jobs``) lives in the same database; migration
0004 creates it with the exact layout APScheduler 3 expects, so `storywatch status` can
read next-run times before any daemon ever started.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storywatch.storage.models import Base

# Outcomes of a run; "running" only while its child is alive.
RUNNING, OK, FAILED, KILLED, TIMEOUT = "running", "ok", "failed", "killed", "timeout"
OUTCOMES = (RUNNING, OK, FAILED, KILLED, TIMEOUT)

JOBS_TABLE = "apscheduler_jobs"


class CrawlRun(Base):
    """One source's share of one crawl child; sources crawled together share a batch."""

    __tablename__ = "crawl_runs"
    __table_args__ = (Index("ix_crawl_runs_source_started", "source", "started_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    batch: Mapped[str] = mapped_column(String(32), index=True)
    source: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    outcome: Mapped[str] = mapped_column(String(16))
    seen: Mapped[int] = mapped_column(Integer, default=0)
    new: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    requests: Mapped[int] = mapped_column(Integer, default=0)
    bytes: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    pid: Mapped[int | None] = mapped_column(Integer)
    # Cluster mode: the worker that ran it (storywatch.cluster); None for local children.
    worker: Mapped[str | None] = mapped_column(String(200))


class DaemonLease(Base):
    """Who runs the daemon on this database; renewed by its heartbeat, deleted on exit."""

    __tablename__ = "daemon_lease"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(200))
    host: Mapped[str] = mapped_column(String(200))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime]
    heartbeat_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    # The fencing token: one more each time the lease is taken, so a daemon that lost it
    # (heartbeat failed, another took over) can tell, and launches nothing more.
    token: Mapped[int] = mapped_column(Integer, default=1, server_default="0")
