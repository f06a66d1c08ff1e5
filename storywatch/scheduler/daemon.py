"""The daemon's main loop: lease, scheduler, signals, backoff and a clean stop.

Runs in the foreground, logs to stderr, and stops on SIGTERM/SIGINT after letting the
running crawls finish (up to the grace period). SIGHUP re-reads the config and applies
added, removed and changed sources without touching the others' schedules.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.util import ref_to_obj
from sqlalchemy.exc import SQLAlchemyError

from storywatch.config import Config, ConfigError, load_config
from storywatch.scheduler.children import CrawlRunner, RunnerSettings, crawl_command
from storywatch.scheduler.jobs import (
    CRAWL_PREFIX,
    job_specs,
    set_runner,
    source_interval,
    sync_jobs,
)
from storywatch.scheduler.lock import Lease, LeaseHeld
from storywatch.scheduler.runs import close_orphans, failures_in_row
from storywatch.scheduler.tasks import TASKS, PeriodicTask
from storywatch.scheduler.zygote import Zygote, start_zygote
from storywatch.storage import Storage, open_storage
from storywatch.storage.daemon import JOBS_TABLE, OK

if TYPE_CHECKING:
    from storywatch.cluster.dispatch import ClusterDispatcher
    from storywatch.web.serve import WebServer

log = logging.getLogger("storywatch.scheduler")

# Worker threads of APScheduler: each running source holds one while its child runs
# (batched sources wait in theirs), so this bounds the sources in flight, not children.
WORKER_THREADS = 64
# Time given to runs to record their rows after their children were stopped.
RECORD_SECONDS = 15.0


def backoff_delay(interval: timedelta, failures: int, cap: timedelta) -> timedelta:
    """interval x 2^failures, at most `cap` (but never less than the interval itself)."""
    if failures <= 0:
        return interval
    factor = 2 ** min(failures, 30)  # 2^30 intervals is past any sane cap already
    return max(interval, min(interval * factor, cap))


class Daemon:
    def __init__(
        self,
        config: Config,
        *,
        log_level: str = "WARNING",
        log_format: str = "text",
        tasks: Iterable[PeriodicTask] | None = None,
    ) -> None:
        self.config = config
        self.config_path: Path | None = config.path
        self.log_level = log_level
        self.log_format = log_format
        self.tasks = {task.name: task for task in (TASKS if tasks is None else tasks)}
        self._wake = threading.Event()
        self._stop_requested = 0  # signals received asking to stop
        self._reload_requested = False
        self.storage: Storage | None = None
        self.scheduler: BackgroundScheduler | None = None
        self.runner: CrawlRunner | ClusterDispatcher | None = None
        self.lease: Lease | None = None
        self.web: WebServer | None = None
        self.zygote: Zygote | None = None

    # ------------------------------------------------------------------ jobs

    def crawl(self, source: str) -> None:
        """One scheduled crawl of a source, then its backoff (or recovery)."""
        assert self.storage is not None and self.runner is not None
        config = self.config
        try:
            source_config = config.source(source)
        except ConfigError:
            log.warning("source %s is no longer configured; skipping its run", source)
            return
        with self.storage.session() as session:
            before = failures_in_row(session, source)
        # A source in trouble runs alone, so its hang cannot cost other sources their run.
        result = self.runner.run_source(source, alone=before > 0)
        if result is None:
            return
        now = datetime.now(UTC)
        with self.storage.session() as session:
            failures = failures_in_row(session, source)
        fields = {"event": "backoff", "source": source, "failures": failures}
        if result.outcome != OK:
            interval = source_interval(source_config, config.daemon, now)
            delay = backoff_delay(interval, failures, config.daemon.backoff_cap)
            next_run = now + delay
            job = self.scheduler.get_job(CRAWL_PREFIX + source) if self.scheduler else None
            if job is not None and job.next_run_time is not None \
                    and job.next_run_time > next_run:
                next_run = job.next_run_time
            try:
                assert self.scheduler is not None
                self.scheduler.modify_job(CRAWL_PREFIX + source, next_run_time=next_run)
            except Exception as exc:  # the job was removed by a reload meanwhile
                log.debug("cannot back off %s: %s", source, exc)
                return
            log.warning(
                "%s failed %d time(s) in a row; next try in %.0f s",
                source, failures, (next_run - now).total_seconds(),
                extra={"fields": {**fields, "delay": round((next_run - now).total_seconds(), 3),
                                  "next_run": next_run.isoformat()}},
            )
        elif before > 0:
            log.info("%s recovered after %d failed run(s)", source, before,
                     extra={"fields": {**fields, "event": "recovered", "failures": before}})

    def _fence(self) -> bool:
        """True while the lease is provably ours; else wake the main loop, whose renewal
        then finds out whether it was taken over (and stops the daemon) or not."""
        assert self.lease is not None
        try:
            valid = self.lease.valid()
        except SQLAlchemyError:
            valid = False
        if not valid:
            self._wake.set()
        return valid

    def run_task(self, name: str) -> None:
        task = self.tasks.get(name)
        if task is None:
            log.warning("periodic task %s is no longer defined; skipping", name)
            return
        if not self._fence():
            log.error("periodic task %s not started: this daemon's lease is not valid", name,
                      extra={"fields": {"event": "fenced", "task": name}})
            return
        started = time.monotonic()
        try:
            function = ref_to_obj(task.func)
            result = function(self.config, self.storage, datetime.now(UTC))
        except Exception:
            log.exception("periodic task %s failed", name,
                          extra={"fields": {"event": "task", "task": name, "outcome": "failed"}})
            return
        seconds = time.monotonic() - started
        log.info("periodic task %s done in %.1f s", name, seconds,
                 extra={"fields": {"event": "task", "task": name, "outcome": "ok",
                                   "seconds": round(seconds, 2), "result": repr(result)[:200]}})

    # ------------------------------------------------------------------ main loop

    def run(self) -> int:
        """Run until asked to stop; 0 after a clean stop, 1 when the lease was lost."""
        config = self.config
        self.storage = storage = open_storage(config.storage.url)
        lease = Lease(storage, config.daemon.heartbeat)
        try:
            lease.acquire()
        except LeaseHeld:
            storage.dispose()
            raise
        set_runner(self)
        code = 0
        try:
            self.lease = lease
            self.runner = self._make_runner(storage, config)
            self.scheduler = BackgroundScheduler(
                jobstores={"default": SQLAlchemyJobStore(engine=storage.engine,
                                                         tablename=JOBS_TABLE)},
                executors={"default": ThreadPoolExecutor(WORKER_THREADS)},
                timezone=ZoneInfo(config.daemon.timezone),
            )
            self._install_signals()
            self.scheduler.start(paused=True)
            report = sync_jobs(self.scheduler, job_specs(config, self.tasks.values(),
                                                         datetime.now(UTC)),
                               config.daemon.misfire_grace)
            self.scheduler.resume()
            self.web = self._start_web(config, storage)
            log.info(
                "daemon started: %d sources, %d tasks (jobs added %d, changed %d, removed %d, "
                "kept %d), pid %d, database %s", len(config.sources), len(self.tasks),
                len(report.added), len(report.changed), len(report.removed), len(report.kept),
                os.getpid(), storage.url,
                extra={"fields": {"event": "started", "pid": os.getpid(),
                                  "sources": len(config.sources), "added": report.added,
                                  "changed": report.changed, "removed": report.removed,
                                  "kept": report.kept}},
            )
            heartbeat = config.daemon.heartbeat.total_seconds()
            while not self._stop_requested:
                self._wake.wait(heartbeat)
                self._wake.clear()
                if self._stop_requested:
                    break
                if self._reload_requested:
                    self._reload_requested = False
                    self._reload()
                try:
                    renewed = lease.renew()
                except SQLAlchemyError as exc:
                    # A database restart must not end a daemon meant to run for months;
                    # the lease stays ours unless another daemon takes it meanwhile.
                    log.error("heartbeat failed, database unreachable? %s",
                              str(exc).splitlines()[0])
                    continue
                if not renewed:
                    log.error("the daemon lease on the database was lost (another daemon "
                              "took it over after a missed heartbeat?); stopping")
                    code = 1
                    break
        finally:
            self._shutdown(lease)
            set_runner(None)
        return code

    def _make_runner(self, storage: Storage, config: Config) -> CrawlRunner | ClusterDispatcher:
        """Local crawl children, or with [cluster] messages to the workers (issue 14)."""
        if config.cluster is not None:
            from storywatch.cluster.dispatch import ClusterDispatcher, close_stale_dispatches

            # Runs still "running" may be in a worker's hands: only hopeless ones are closed.
            stale = close_stale_dispatches(
                storage, config.crawl.timeout + config.cluster.queue_timeout)
            if stale:
                log.warning("marked %d dispatched run(s) no worker recorded as failed", stale)
            return ClusterDispatcher(storage, config, self._runner_settings(config),
                                     fence=self._fence)
        orphans = close_orphans(storage, datetime.now(UTC))
        if orphans:
            log.warning("marked %d run(s) left unfinished by a previous daemon as killed",
                        orphans)
        if self.zygote is None and config.daemon.fork_children:
            # On the thread that runs the daemon: the zygote dies with it.
            self.zygote = start_zygote()
        return CrawlRunner(storage, self._runner_settings(config), self._command,
                           fence=self._fence, zygote=self.zygote)

    def _runner_settings(self, config: Config) -> RunnerSettings:
        d = config.daemon
        return RunnerSettings(timeout=config.crawl.timeout, max_children=d.max_children,
                              batch_window=d.batch_window, batch_max=d.batch_max)

    def _command(self, sources: list[str]) -> list[str]:
        return crawl_command(sources, config_path=self.config_path, log_level=self.log_level,
                             log_format=self.log_format)

    def _reload(self) -> None:
        try:
            config = load_config(self.config_path)
        except ConfigError as exc:
            log.error("SIGHUP: the config has errors, keeping the running one: %s", exc)
            return
        if config.storage.url != self.config.storage.url:
            log.error("SIGHUP: storage.url changed; restart the daemon to switch databases "
                      "(keeping the running config)")
            return
        self.config = config
        assert self.runner is not None and self.scheduler is not None
        self.runner.settings = self._runner_settings(config)
        report = sync_jobs(self.scheduler, job_specs(config, self.tasks.values(),
                                                     datetime.now(UTC)),
                           config.daemon.misfire_grace)
        log.info("SIGHUP: config reloaded (jobs added %d, changed %d, removed %d, kept %d)",
                 len(report.added), len(report.changed), len(report.removed), len(report.kept),
                 extra={"fields": {"event": "reloaded", "added": report.added,
                                   "changed": report.changed, "removed": report.removed,
                                   "kept": report.kept}})

    # ------------------------------------------------------------------ signals and stop

    def _install_signals(self) -> None:
        signal.signal(signal.SIGTERM, self._on_stop)
        signal.signal(signal.SIGINT, self._on_stop)
        signal.signal(signal.SIGHUP, self._on_hup)

    def _on_stop(self, signum: int, _frame: FrameType | None) -> None:
        self._stop_requested += 1
        self._wake.set()

    def _on_hup(self, _signum: int, _frame: FrameType | None) -> None:
        self._reload_requested = True
        self._wake.set()

    def request_stop(self) -> None:
        """For embedding and tests: the same as SIGTERM."""
        self._stop_requested += 1
        self._wake.set()

    def _start_web(self, config: Config, storage: Storage) -> WebServer | None:
        """The web app on [web] listen, in this process (imported only when configured)."""
        if config.web.listen is None:
            return None
        from storywatch.web.app import create_app
        from storywatch.web.auth import password_from_environment
        from storywatch.web.serve import start_web_server

        app = create_app(config, storage, password=password_from_environment(),
                         crawl_now=self.crawl_now)
        try:
            return start_web_server(app, config.web.listen)
        except OSError as exc:
            raise ConfigError(f"{config.path or 'config'}: web.listen: {exc}") from None

    def crawl_now(self, source: str) -> str:
        """The web app's "crawl now": the source's job is due at once; its run, backoff
        and recording are those of any scheduled run."""
        job = self.scheduler.get_job(CRAWL_PREFIX + source) if self.scheduler else None
        if job is None:
            return f"{source} has no scheduled job (reload the daemon after a config change)"
        job.modify(next_run_time=datetime.now(UTC))
        return f"{source} will be crawled now"

    def _shutdown(self, lease: Lease) -> None:
        config = self.config
        if self.web is not None:
            self.web.stop()
        grace = config.daemon.grace_period.total_seconds()
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)  # no new runs; running ones go on
        runner = self.runner
        if runner is not None:
            runner.stop_starting()
            live = runner.live_children()
            if live:
                log.info("stopping: waiting up to %g s for %d running crawl(s)", grace, len(live))
            deadline = time.monotonic() + grace
            # A second SIGTERM/SIGINT cuts the grace period short.
            stops = self._stop_requested
            while not runner.idle() and time.monotonic() < deadline \
                    and self._stop_requested == stops:
                self._wake.wait(min(0.5, max(0.0, deadline - time.monotonic())))
                self._wake.clear()
            stopped = runner.stop_children()
            if stopped:
                log.warning("stopping: terminated %d crawl(s) still running after the grace "
                            "period", stopped)
            if not runner.wait_idle(RECORD_SECONDS):
                log.error("stopping: some runs could not record their end")
        self._restore_signals()
        if self.zygote is not None:
            self.zygote.close()
            self.zygote = None
        if self.storage is not None:
            with contextlib.suppress(Exception):
                lease.release()
            self.storage.dispose()
        log.info("daemon stopped", extra={"fields": {"event": "stopped"}})
        self._exit_if_stuck()

    def _restore_signals(self) -> None:
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            with contextlib.suppress(ValueError):
                signal.signal(signum, signal.SIG_DFL)

    @staticmethod
    def _exit_if_stuck() -> None:
        """A periodic task stuck in I/O would keep the interpreter from exiting: don't wait."""
        stuck = [t for t in threading.enumerate()
                 if t is not threading.main_thread() and not t.daemon and t.is_alive()]
        for thread in stuck:
            thread.join(timeout=1.0)
        stuck = [t for t in stuck if t.is_alive()]
        if stuck:
            log.warning("stopping: %d worker thread(s) still busy; exiting without them",
                        len(stuck))
            with contextlib.suppress(Exception):
                sys.stderr.flush()
            os._exit(0)
