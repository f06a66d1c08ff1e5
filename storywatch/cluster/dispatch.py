"""The scheduler's side of cluster mode: a due crawl becomes a message, not a local child.

`ClusterDispatcher.run_source` has the contract of CrawlRunner.run_source (the daemon's
APScheduler thread blocks in it until the run ended, which keeps "never crawled twice at
once"): it writes the run's `crawl_runs` row, enqueues a message naming it, and waits for
a worker to finish the row. Backoff, status and the lease fencing stay the daemon's.
Sources are not batched: one message per source spreads them over the workers.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError

from storywatch.cluster.broker import crawl_message, make_broker
from storywatch.config import Config
from storywatch.scheduler.children import ActiveRuns, RunnerSettings
from storywatch.scheduler.runs import RunResult, start_runs
from storywatch.storage import Storage
from storywatch.storage.daemon import FAILED, RUNNING, TIMEOUT, CrawlRun

log = logging.getLogger("storywatch.scheduler.runs")

# How often a waiting dispatch looks at its run's row (one indexed SELECT).
POLL_SECONDS = 0.5
# Pause between attempts to enqueue while the broker is unreachable (a restart).
ENQUEUE_RETRY_SECONDS = 2.0


class ClusterDispatcher(ActiveRuns):
    def __init__(self, storage: Storage, config: Config, settings: RunnerSettings,
                 fence: Callable[[], bool] | None = None) -> None:
        assert config.cluster is not None
        self.storage = storage
        self.config = config
        self.cluster = config.cluster
        self.settings = settings  # kept for the daemon's reload; timeout is read from it
        self._fence = fence
        self._broker = make_broker(self.cluster)
        self._broker_lock = threading.Lock()
        super().__init__()
        self._unreadable: set[int] = set()  # runs whose row could not be read (logged once)

    def run_source(self, source: str, *, alone: bool = False) -> RunResult | None:
        """Dispatch one crawl of the source and wait for its result (None: daemon stopping)."""
        if self._stopping.is_set() or not self._fenced(source):
            return None
        with self._lock:
            self._active += 1
        try:
            return self._dispatch(source)
        finally:
            with self._lock:
                self._active -= 1
                self._lock.notify_all()

    def _dispatch(self, source: str) -> RunResult | None:
        started = datetime.now(UTC)
        batch = uuid.uuid4().hex[:16]
        run_id = start_runs(self.storage, batch, [source], started, None)[source]
        limit = self.settings.timeout + self.cluster.queue_timeout
        deadline = time.monotonic() + limit.total_seconds()
        if not self._enqueue(run_id, source, deadline):
            return self._give_up(run_id, source, FAILED, "the broker could not be reached")
        while not self._stopping.is_set():
            result = self._result(run_id)
            if result is not None:
                return result
            if time.monotonic() > deadline:
                return self._give_up(run_id, source, TIMEOUT, (
                    f"no worker finished the crawl within {limit.total_seconds():g} s "
                    "(cluster.queue_timeout + crawl.timeout); are workers running?"))
            self._stopping.wait(POLL_SECONDS)
        return None  # the daemon stops; the worker records the run whenever it ends

    def _enqueue(self, run_id: int, source: str, deadline: float) -> bool:
        message = crawl_message(self.cluster, run_id, source)
        while True:
            try:
                with self._broker_lock:  # pika connections are not shared across threads
                    self._broker.enqueue(message)
                log.debug("dispatched %s as run %d", source, run_id)
                return True
            except Exception as exc:  # dramatiq.errors.ConnectionError and pika's own
                log.error("cannot enqueue the crawl of %s (broker down?): %s", source, exc)
            if time.monotonic() > deadline or self._stopping.wait(ENQUEUE_RETRY_SECONDS):
                return False

    def _result(self, run_id: int) -> RunResult | None:
        try:
            with self.storage.session() as session:
                run = session.execute(select(CrawlRun).where(CrawlRun.id == run_id)).scalar()
        except SQLAlchemyError as exc:  # a database restart: keep waiting (said once)
            if run_id not in self._unreadable:
                self._unreadable.add(run_id)
                log.warning("cannot read run %d, waiting for the database: %s", run_id,
                            str(exc).splitlines()[0])
            return None
        self._unreadable.discard(run_id)
        if run is None or run.outcome == RUNNING:
            return None
        return RunResult(outcome=run.outcome, seen=run.seen, new=run.new, failed=run.failed,
                         requests=run.requests, bytes=run.bytes, error=run.error)

    def _give_up(self, run_id: int, source: str, outcome: str, error: str) -> RunResult:
        with self.storage.session() as session:
            session.execute(update(CrawlRun).where(CrawlRun.id == run_id,
                                                   CrawlRun.outcome == RUNNING)
                            .values(outcome=outcome, error=error,
                                    finished_at=datetime.now(UTC)))
        log.warning("run %d of %s: %s", run_id, source, error,
                    extra={"fields": {"event": "crawl_run", "source": source,
                                      "outcome": outcome, "run_id": run_id, "error": error}})
        return self._result(run_id) or RunResult(outcome=outcome, error=error)

    def _fenced(self, source: str) -> bool:
        if self._fence is None:
            return True
        try:
            if self._fence():
                return True
        except Exception:  # an unreachable database: not provably ours either
            pass
        log.error("not dispatching the crawl of %s: this daemon's lease is not valid", source,
                  extra={"fields": {"event": "fenced", "sources": [source]}})
        return False

    # -- the daemon's stop, as for CrawlRunner ------------------------------------------------

    def wait_idle(self, timeout: float) -> bool:
        if not super().wait_idle(timeout):
            return False
        with self._broker_lock:
            self._broker.close()
        return True

    def stop_children(self, reason: str = "") -> int:
        return 0  # crawls run on the workers, which finish and record them on their own

    def live_children(self) -> list[int]:
        return []


def close_stale_dispatches(storage: Storage, older_than: timedelta,
                           now: datetime | None = None) -> int:
    """At a scheduler's start: runs still "running" long after any worker could have
    finished them (their message was lost with a broker's data) are marked failed. Younger
    ones are left to the workers that may hold them."""
    now = now or datetime.now(UTC)
    with storage.session() as session:
        done = session.execute(
            update(CrawlRun).where(CrawlRun.outcome == RUNNING,
                                   CrawlRun.started_at < now - older_than)
            .values(outcome=FAILED, finished_at=now,
                    error="no worker recorded this run (lost with the broker's queue?)"))
        return int(done.rowcount or 0)  # type: ignore[attr-defined]
