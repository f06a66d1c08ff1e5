"""APScheduler jobs built from the config, and their reconciliation with the job store.

Jobs are stored in the database, so a restart keeps every job's next run time. At start
and on SIGHUP `sync_jobs` compares each configured schedule with the stored one (by a
fingerprint kept in the job's kwargs): unchanged jobs are left alone, changed ones are
replaced, new ones added, and jobs of removed sources deleted.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from storywatch.config import Config, DaemonConfig, SourceConfig
from storywatch.scheduler.tasks import PeriodicTask

CRAWL_PREFIX = "crawl:"
TASK_PREFIX = "task:"
CRAWL_FUNC = "storywatch.scheduler.jobs:crawl_job"
TASK_FUNC = "storywatch.scheduler.jobs:task_job"
# Jitter is at most this share of an interval, so a "1s" source is not moved by 30 s.
JITTER_SHARE = 0.1


@dataclass
class JobSpec:
    id: str
    func: str
    kwargs: dict[str, Any]
    trigger: BaseTrigger
    fingerprint: str
    # When a new job first runs; None: when its trigger says.
    first_run: datetime | None = None


@dataclass
class SyncReport:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)


def _jitter(daemon: DaemonConfig, interval: timedelta | None) -> float:
    jitter = daemon.jitter.total_seconds()
    if interval is not None:
        jitter = min(jitter, interval.total_seconds() * JITTER_SHARE)
    return round(jitter, 3)


def source_interval(source: SourceConfig, daemon: DaemonConfig, now: datetime) -> timedelta:
    """The source's regular gap between runs: the base of its backoff."""
    if source.cron is None:
        return source.every or daemon.default_every
    trigger = CronTrigger.from_crontab(source.cron, timezone=ZoneInfo(daemon.timezone))
    first = trigger.get_next_fire_time(None, now)
    second = trigger.get_next_fire_time(first, first + timedelta(seconds=1)) if first else None
    if first is None or second is None:
        return daemon.default_every
    return second - first


def _schedule(
    every: timedelta | None, cron: str | None, daemon: DaemonConfig, now: datetime,
    *, soon: bool = True,
) -> tuple[BaseTrigger, str, datetime | None]:
    zone = ZoneInfo(daemon.timezone)
    if cron is not None:
        jitter = _jitter(daemon, None)
        trigger = CronTrigger.from_crontab(cron, timezone=zone)
        trigger.jitter = jitter or None
        return trigger, f"cron={cron};tz={daemon.timezone};jitter={jitter:g}", None
    interval = every or daemon.default_every
    jitter = _jitter(daemon, interval)
    seconds = interval.total_seconds()
    # A new source is crawled soon (spread over the jitter), not one interval from now.
    first = now + timedelta(seconds=random.uniform(0, jitter))
    if not soon:
        first += interval
    trigger = IntervalTrigger(seconds=seconds, start_date=first, timezone=zone,
                              jitter=jitter or None)
    return trigger, f"every={seconds:g};jitter={jitter:g}", first


def job_specs(
    config: Config, tasks: Iterable[PeriodicTask], now: datetime
) -> list[JobSpec]:
    specs = []
    for source in config.sources:
        trigger, fingerprint, first = _schedule(source.every, source.cron, config.daemon, now)
        specs.append(JobSpec(
            id=CRAWL_PREFIX + source.name, func=CRAWL_FUNC,
            kwargs={"source": source.name, "schedule": fingerprint},
            trigger=trigger, fingerprint=fingerprint, first_run=first,
        ))
    for task in tasks:
        if not task.enabled(config):
            continue
        # A task's first run waits one period: the digest must not go out on every restart.
        trigger, fingerprint, first = _schedule(task.every, task.cron, config.daemon, now,
                                                soon=False)
        specs.append(JobSpec(
            id=TASK_PREFIX + task.name, func=TASK_FUNC,
            kwargs={"task": task.name, "schedule": fingerprint},
            trigger=trigger, fingerprint=fingerprint, first_run=first,
        ))
    return specs


def sync_jobs(
    scheduler: BaseScheduler, specs: list[JobSpec], misfire_grace: timedelta
) -> SyncReport:
    """Make the job store match the specs, keeping the state of unchanged jobs."""
    report = SyncReport()
    existing = {job.id: job for job in scheduler.get_jobs()}
    grace = max(1, int(misfire_grace.total_seconds()))
    wanted = {spec.id for spec in specs}
    for job_id in existing:
        if job_id not in wanted:
            scheduler.remove_job(job_id)
            report.removed.append(job_id)
    for spec in specs:
        job = existing.get(spec.id)
        if job is not None and job.kwargs.get("schedule") == spec.fingerprint:
            if job.misfire_grace_time != grace or job.max_instances != 1 or not job.coalesce:
                scheduler.modify_job(spec.id, misfire_grace_time=grace, max_instances=1,
                                     coalesce=True)
            report.kept.append(spec.id)
            continue
        options: dict[str, Any] = {}
        if job is None and spec.first_run is not None:
            options["next_run_time"] = spec.first_run
        scheduler.add_job(
            spec.func, trigger=spec.trigger, id=spec.id, name=spec.id, kwargs=spec.kwargs,
            coalesce=True, max_instances=1, misfire_grace_time=grace, replace_existing=True,
            **options,
        )
        (report.changed if job is not None else report.added).append(spec.id)
    return report


class JobRunner(Protocol):
    """What the stored jobs call: the running daemon."""

    def crawl(self, source: str) -> None: ...

    def run_task(self, task: str) -> None: ...


_runner: JobRunner | None = None


def set_runner(runner: JobRunner | None) -> None:
    """The daemon registers itself here while it runs (None when it stops).

    Why here: the stored jobs name their functions in this module, and this module must not
    import the daemon that imports it (an import cycle).
    """
    global _runner
    _runner = runner


def current_runner() -> JobRunner:
    if _runner is None:
        raise RuntimeError("no storywatch daemon is running in this process")
    return _runner


def crawl_job(source: str, schedule: str) -> None:
    """The stored jobs' entry point (referenced by name, so it survives restarts)."""
    current_runner().crawl(source)


def task_job(task: str, schedule: str) -> None:
    current_runner().run_task(task)
