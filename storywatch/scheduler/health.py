"""What `storywatch status` reports: each source's last and next run, and the daemon's pulse.

Read straight from the database (crawl_runs, items, the lease and APScheduler's job
table), so it works from any host that can reach the database, daemon running or not.
"""

from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Column, Float, MetaData, Table, Unicode, select

from storywatch.cluster.registry import WorkerInfo
from storywatch.config import Config
from storywatch.scheduler.jobs import CRAWL_PREFIX
from storywatch.scheduler.lock import LeaseInfo, read_lease
from storywatch.scheduler.runs import failures_in_row, items_since, latest_runs
from storywatch.storage import Storage
from storywatch.storage.daemon import JOBS_TABLE, RUNNING

_jobs = Table(
    JOBS_TABLE, MetaData(),
    Column("id", Unicode(191), primary_key=True),
    Column("next_run_time", Float(25)),
)


@dataclass
class SourceHealth:
    source: str
    schedule: str
    last_run: datetime | None
    outcome: str | None
    error: str | None
    next_run: datetime | None
    items_24h: int
    failures_in_row: int

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("last_run", "next_run"):
            value = data[key]
            data[key] = value.isoformat().replace("+00:00", "Z") if value else None
        return data


@dataclass
class ClusterHealth:
    """Cluster mode: the workers' rows and the broker's queue (docs/cluster.md)."""

    workers: list[WorkerInfo]
    queue: str
    queue_depth: int | None  # None: the broker could not be asked
    broker_error: str | None = None

    def alive(self, now: datetime) -> list[WorkerInfo]:
        return [w for w in self.workers if w.alive(now)]

    def as_json(self, now: datetime) -> dict[str, Any]:
        return {
            "queue": self.queue, "queue_depth": self.queue_depth,
            "broker_error": self.broker_error,
            "workers": [{"id": w.id, "host": w.host, "pid": w.pid, "alive": w.alive(now),
                         "heartbeat_at": w.heartbeat_at.isoformat().replace("+00:00", "Z"),
                         "current_job": w.current_job, "jobs_done": w.jobs_done}
                        for w in self.workers],
        }


@dataclass
class Health:
    daemon: LeaseInfo | None
    daemon_alive: bool
    sources: list[SourceHealth]
    threshold: int
    now: datetime
    cluster: ClusterHealth | None = None

    @property
    def failing(self) -> list[SourceHealth]:
        return [s for s in self.sources if s.failures_in_row >= self.threshold]

    @property
    def healthy(self) -> bool:
        return self.daemon_alive and not self.failing and not self._cluster_problems()

    def _cluster_problems(self) -> list[str]:
        if self.cluster is None:
            return []
        out = []
        if not self.cluster.alive(self.now):
            out.append("no crawl worker is alive (start one: storywatch worker)")
        if self.cluster.broker_error is not None:
            out.append(f"the broker cannot be reached: {self.cluster.broker_error}")
        return out

    def problems(self) -> list[str]:
        out = []
        if self.daemon is None:
            out.append("the daemon is not running (no lease in the database)")
        elif not self.daemon_alive:
            out.append(f"the daemon's heartbeat is stale ({self.daemon.describe(self.now)})")
        for s in self.failing:
            out.append(f"source {s.source} failed {s.failures_in_row} runs in a row"
                       + (f": {s.error}" if s.error else ""))
        return out + self._cluster_problems()


def _schedule_text(config: Config, name: str) -> str:
    source = config.source(name)
    if source.cron:
        return f"cron {source.cron}"
    every = source.every or config.daemon.default_every
    seconds = int(every.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"every {seconds // size}{unit}"
    return f"every {every.total_seconds():g}s"


def _next_runs(storage: Storage) -> dict[str, datetime | None]:
    with storage.session() as session:
        rows = session.execute(select(_jobs.c.id, _jobs.c.next_run_time))
        return {
            job_id.removeprefix(CRAWL_PREFIX): (
                datetime.fromtimestamp(ts, UTC) if ts is not None else None
            )
            for job_id, ts in rows if job_id.startswith(CRAWL_PREFIX)
        }


def collect_health(
    config: Config, storage: Storage, *, threshold: int | None = None,
    now: datetime | None = None,
) -> Health:
    now = now or datetime.now(UTC)
    lease = read_lease(storage)
    next_runs = _next_runs(storage)
    with storage.session() as session:
        latest = latest_runs(session)
        items = items_since(session, now - timedelta(hours=24))
        sources = []
        for source in config.sources:
            run = latest.get(source.name)
            sources.append(SourceHealth(
                source=source.name,
                schedule=_schedule_text(config, source.name),
                last_run=run.started_at if run else None,
                outcome=run.outcome if run else None,
                error=run.error if run and run.outcome not in ("ok", RUNNING) else None,
                next_run=next_runs.get(source.name),
                items_24h=items.get(source.name, 0),
                failures_in_row=failures_in_row(session, source.name),
            ))
    return Health(
        daemon=lease,
        daemon_alive=lease is not None and lease.alive(now),
        sources=sources,
        threshold=threshold or config.daemon.failure_threshold,
        now=now,
        cluster=_cluster_health(config, storage) if config.cluster is not None else None,
    )


def _cluster_health(config: Config, storage: Storage) -> ClusterHealth:
    from storywatch.cluster.broker import make_broker, queue_depth
    from storywatch.cluster.registry import list_workers

    assert config.cluster is not None
    health = ClusterHealth(list_workers(storage), config.cluster.queue, None)
    broker = make_broker(config.cluster)
    try:
        health.queue_depth = queue_depth(broker, config.cluster.queue)
    except Exception as exc:  # pika's and redis's connection errors alike
        health.broker_error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    finally:
        with contextlib.suppress(Exception):
            broker.close()
    return health
