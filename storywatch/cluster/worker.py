"""`storywatch worker`: take crawl jobs from the broker and run each in a crawl child.

A job is one source's run, dispatched by the scheduler (dispatch.py) with the id of its
`crawl_runs` row. The worker:

1. skips a job whose run is already finished (a message redelivered after its worker
   recorded the run but died before acknowledging it, or after a broker restart);
2. takes the source's lease (scheduler/lock.py, with its fencing token), so a source is
   crawled by one worker at a time; a lease held by a live worker makes the job retry later;
3. runs `storywatch crawl --source NAME` as a child, as the local daemon does, with its
   worker id in the environment: the child claims every article URL before fetching it
   (claims.py) and dies with the worker (child.py);
4. records the run, releases the lease and its claims, and only then acknowledges the
   message. A worker killed with -9 acknowledges nothing: the message goes back to the
   queue, and the next worker takes over the lease and the dead worker's claims.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import signal
import threading
import time
from datetime import UTC, datetime
from types import FrameType

import dramatiq
from sqlalchemy import update
from sqlalchemy.exc import SQLAlchemyError

from storywatch.cluster.broker import CRAWL_ACTOR, actor_options, make_broker
from storywatch.cluster.child import WORKER_ENV, WORKER_PID_ENV
from storywatch.cluster.claims import release_claims
from storywatch.cluster.registry import (
    Registration,
    reap_dead_on_this_host,
    release_claims_of_dead,
)
from storywatch.config import Config, ConfigError
from storywatch.scheduler.children import crawl_command, judge, start_child
from storywatch.scheduler.lock import Lease, LeaseHeld
from storywatch.scheduler.runs import RunResult, finish_runs
from storywatch.scheduler.zygote import Zygote, start_zygote
from storywatch.storage import Storage, open_storage
from storywatch.storage.daemon import FAILED, KILLED, RUNNING, TIMEOUT, CrawlRun
from storywatch.storage.db import shown_url
from storywatch.storage.outage import through_outage

log = logging.getLogger("storywatch.cluster.worker")

# DaemonLease.name is 64 characters: long source names are hashed into it.
_LEASE_NAME_MAX = 64


class SourceBusy(Exception):
    """Another live worker holds the source's lease; Dramatiq retries the job later."""


class WorkerStopping(Exception):
    """The worker was asked to stop mid-crawl; the job is retried by another worker."""


def source_lease_name(source: str) -> str:
    name = f"source:{source}"
    if len(name) <= _LEASE_NAME_MAX:
        return name
    return "source:" + hashlib.sha256(source.encode("utf-8")).hexdigest()[:40]


class CrawlJobs:
    """The crawl actor's function, with what it needs: config, storage, this worker's row."""

    def __init__(self, config: Config, storage: Storage, registration: Registration, *,
                 log_level: str, log_format: str, zygote: Zygote | None = None) -> None:
        assert config.cluster is not None
        self.zygote = zygote
        self.config = config
        self.storage = storage
        self.registration = registration
        self.log_level = log_level
        self.log_format = log_format
        self.heartbeat = config.cluster.heartbeat
        self.stopping = threading.Event()
        self.grace = config.daemon.grace_period.total_seconds()

    def crawl(self, run_id: int, source: str) -> None:
        """The crawl actor: one source's run, recorded in its crawl_runs row."""
        with self.storage.session() as session:
            run = session.get(CrawlRun, run_id)
            outcome = run.outcome if run is not None else None
        if outcome != RUNNING:
            log.info("run %s of %s is %s already; nothing to do", run_id, source,
                     outcome or "gone")
            return
        try:
            self.config.source(source)
        except ConfigError as exc:
            self._finish(run_id, source, RunResult(outcome=FAILED, error=(
                f"worker {self.registration.id}: {exc} (every worker needs the same config)")))
            return
        reap_dead_on_this_host(self.storage)
        release_claims_of_dead(self.storage)
        lease = Lease(self.storage, self.heartbeat, name=source_lease_name(source))
        try:
            lease.acquire()
        except LeaseHeld:
            raise SourceBusy(f"source {source} is being crawled by another worker") from None
        try:
            self.registration.beat(f"{source} (run {run_id})", set_job=True)
            result = self._crawl(run_id, source, lease)
            if result is not None:
                self._finish(run_id, source, result)
        finally:
            with contextlib.suppress(SQLAlchemyError):
                lease.release()
            with contextlib.suppress(SQLAlchemyError):
                # Claims of a child that was killed; a finished child released its own.
                release_claims(self.storage, self.registration.id)
            with contextlib.suppress(SQLAlchemyError):
                self.registration.job_done()

    def _crawl(self, run_id: int, source: str, lease: Lease) -> RunResult | None:
        timeout = self.config.crawl.timeout.total_seconds()
        command = crawl_command([source], config_path=self.config.path,
                                log_level=self.log_level, log_format=self.log_format)
        # The zygote's fork: the crawl's imports done once per worker, not once per run.
        child = start_child(command, {**os.environ, WORKER_ENV: self.registration.id},
                            self.zygote, parent_pid_var=WORKER_PID_ENV)
        with self.storage.session() as session:
            session.execute(update(CrawlRun).where(CrawlRun.id == run_id).values(
                pid=child.pid, worker=self.registration.id, started_at=datetime.now(UTC)))
        beat = self.heartbeat.total_seconds()
        stop_asked: float | None = None
        while True:
            code = child.wait(beat)
            if code is not None:
                break
            if time.monotonic() - child.started > timeout:
                log.warning("crawl of %s passed the timeout of %g s; killing pid %d", source,
                            timeout, child.pid)
                code = child.stop(TIMEOUT)
                break
            if self.stopping.is_set():
                # The crawl in hand gets the grace period to finish, then goes back to
                # the queue (Dramatiq retries the message) for another worker.
                stop_asked = stop_asked or time.monotonic()
                if time.monotonic() - stop_asked > self.grace:
                    child.stop(KILLED)
                    raise WorkerStopping(f"worker stopping during the crawl of {source}")
            if not self._renew(lease):
                log.error("lost the lease of source %s; stopping its crawl", source)
                child.stop(KILLED)
                return RunResult(outcome=KILLED, error="the worker lost the source's lease")
        return judge(child, code, [source], timeout)[source]

    def _renew(self, lease: Lease) -> bool:
        """Renew the source lease; False only when another worker has taken it. While the
        database cannot be reached the crawl goes on: no one can take the lease meanwhile,
        and once the database is back the renewal tells whether it is still ours (its
        conditions are our owner id and fencing token, not the expiry)."""
        try:
            return lease.renew()
        except SQLAlchemyError as exc:
            log.warning("cannot renew the source lease: %s", str(exc).splitlines()[0])
            return True

    def _finish(self, run_id: int, source: str, result: RunResult) -> None:
        through_outage(lambda: finish_runs(self.storage, {source: run_id}, {source: result},
                                           datetime.now(UTC)), what=f"recording run {run_id}")
        log.info("run %s: %s %s seen=%d new=%d failed=%d", run_id, source, result.outcome,
                 result.seen, result.new, result.failed,
                 extra={"fields": {"event": "crawl_run", "run_id": run_id, "source": source,
                                   "outcome": result.outcome, "seen": result.seen,
                                   "new": result.new, "failed": result.failed,
                                   "worker": self.registration.id}})


class ClusterWorker:
    """One worker process: its registration, heartbeat thread and Dramatiq consumer."""

    def __init__(self, config: Config, *, log_level: str = "WARNING",
                 log_format: str = "text") -> None:
        if config.cluster is None:
            raise ConfigError(f"{config.path or 'the config'}: [cluster] is missing; a worker "
                              "needs broker_url (see docs/cluster.md)")
        self.config = config
        self.cluster = config.cluster
        self.log_level = log_level
        self.log_format = log_format
        self._stop = threading.Event()

    def run(self) -> int:
        storage = open_storage(self.config.storage.url)
        registration = Registration(storage, self.cluster.heartbeat)
        registration.register()
        # Started here, on the main thread: the zygote dies with the thread that started it.
        zygote = start_zygote() if self.config.daemon.fork_children else None
        jobs = CrawlJobs(self.config, storage, registration, log_level=self.log_level,
                         log_format=self.log_format, zygote=zygote)
        broker = make_broker(self.cluster)
        dramatiq.actor(actor_name=CRAWL_ACTOR, queue_name=self.cluster.queue, broker=broker,
                       **actor_options(self.config.crawl.timeout))(jobs.crawl)
        worker = dramatiq.Worker(broker, queues={self.cluster.queue},
                                 worker_threads=self.cluster.jobs_per_worker)
        # One message in hand per job slot: a busy worker must not sit on jobs that an
        # idle one could run (Dramatiq's default prefetches twice the threads).
        worker.queue_prefetch = self.cluster.jobs_per_worker
        heart = threading.Thread(target=self._heartbeat, args=(registration,), daemon=True,
                                 name="worker-heartbeat")
        self._install_signals()
        worker.start()
        heart.start()
        log.info("worker %s started: queue %s on %s, database %s", registration.id,
                 self.cluster.queue, shown_url(self.cluster.broker_url), storage.url,
                 extra={"fields": {"event": "worker_started", "worker": registration.id}})
        try:
            while not self._stop.is_set():
                self._stop.wait(1.0)
        finally:
            jobs.stopping.set()  # a running crawl stops; its message is retried elsewhere
            # Dramatiq waits for the job threads: the grace period plus the time to stop a
            # child and hand its message back.
            grace = self.config.daemon.grace_period.total_seconds()
            worker.stop(timeout=int((grace + 15) * 1000))
            broker.close()
            with contextlib.suppress(SQLAlchemyError):
                registration.leave()
            storage.dispose()
            if zygote is not None:
                zygote.close()
            log.info("worker %s stopped", registration.id,
                     extra={"fields": {"event": "worker_stopped", "worker": registration.id}})
        return 0

    def _heartbeat(self, registration: Registration) -> None:
        while not self._stop.wait(self.cluster.heartbeat.total_seconds()):
            try:
                registration.beat()
            except SQLAlchemyError as exc:
                log.error("worker heartbeat failed, database unreachable? %s",
                          str(exc).splitlines()[0])

    def _install_signals(self) -> None:
        signal.signal(signal.SIGTERM, self._on_stop)
        signal.signal(signal.SIGINT, self._on_stop)

    def _on_stop(self, _signum: int, _frame: FrameType | None) -> None:
        self._stop.set()

    def request_stop(self) -> None:
        self._stop.set()

