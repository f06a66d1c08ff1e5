"""Crawl child processes: start, batch, time out, kill, and turn their output into runs.

Each crawl is `python -m storywatch crawl --format json --source ...` in its own process
group: Scrapy's Twisted reactor cannot be restarted within one process, and a spider that
crashes, leaks or hangs must cost one run, not the daemon.
"""

from __future__ import annotations

import collections
import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

from storywatch.scheduler.runs import STOPPED_WITH_DAEMON, RunResult, finish_runs, start_runs
from storywatch.scheduler.zygote import Zygote, ZygoteUnavailable, read_exit
from storywatch.storage import Storage
from storywatch.storage.daemon import FAILED, KILLED, TIMEOUT

log = logging.getLogger("storywatch.scheduler.runs")

# After SIGTERM a Scrapy child closes its spiders and flushes its pipelines; this is how
# long that may take before SIGKILL. A clean Scrapy stop takes well under a second here.
TERM_TO_KILL_SECONDS = 5.0
# Lines of a child's stderr kept to explain a crash in crawl_runs.error.
STDERR_TAIL_LINES = 20


def crawl_command(
    sources: list[str], *, config_path: Path | None, log_level: str, log_format: str
) -> list[str]:
    """The child's command line: the same CLI a person would run, with JSON figures."""
    command = [sys.executable, "-m", "storywatch"]
    if config_path is not None:
        command += ["--config", str(config_path)]
    command += ["--log-level", log_level, "--log-format", log_format, "crawl", "--format", "json"]
    for source in sources:
        command += ["--source", source]
    return command


class Child:
    """One crawl child: its stdout collected, its stderr passed on to ours line by line."""

    def __init__(self, command: list[str], env: dict[str, str] | None = None) -> None:
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=env, start_new_session=True,  # its own process group, killed as a whole
        )
        self.pid = self.proc.pid
        self._start_readers(self.proc.stdout, self.proc.stderr)  # type: ignore[arg-type]

    def _start_readers(self, stdout: IO[bytes], stderr: IO[bytes]) -> None:
        self.stopped_as: str | None = None  # KILLED or TIMEOUT once we stop it
        self._stdout: list[bytes] = []
        self._stderr_tail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL_LINES)
        self._readers = [
            threading.Thread(target=self._read_stdout, args=(stdout,), daemon=True,
                             name=f"child-{self.pid}-out"),
            threading.Thread(target=self._read_stderr, args=(stderr,), daemon=True,
                             name=f"child-{self.pid}-err"),
        ]
        for reader in self._readers:
            reader.start()

    def _read_stdout(self, stream: IO[bytes]) -> None:
        with stream:
            for chunk in iter(lambda: stream.read(65536), b""):
                self._stdout.append(chunk)

    def _read_stderr(self, stream: IO[bytes]) -> None:
        out = sys.stderr
        with stream:
            for raw in stream:
                line = raw.decode("utf-8", "replace")
                if line.strip():
                    self._stderr_tail.append(line.rstrip())
                with contextlib.suppress(OSError, ValueError):
                    out.write(line)
                    out.flush()

    def _exit_code(self, timeout: float) -> int | None:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def wait(self, timeout: float) -> int | None:
        """The exit code, or None when the child is still running after `timeout` seconds."""
        code = self._exit_code(timeout)
        if code is None:
            return None
        for reader in self._readers:
            reader.join(timeout=5)
        return code

    def stop(self, reason: str) -> int:
        """SIGTERM the whole group, SIGKILL it if it lingers; returns the exit code."""
        if self.stopped_as is None:
            self.stopped_as = reason
        self._signal(signal.SIGTERM)
        code = self.wait(TERM_TO_KILL_SECONDS)
        if code is None:
            self._signal(signal.SIGKILL)
            code = self.wait(TERM_TO_KILL_SECONDS)
        return code if code is not None else -signal.SIGKILL

    def _signal(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signum)

    @property
    def stdout(self) -> str:
        return b"".join(self._stdout).decode("utf-8", "replace")

    @property
    def stderr_tail(self) -> list[str]:
        return list(self._stderr_tail)


class ForkedChild(Child):
    """A crawl child forked by the zygote (scheduler/zygote.py), not started as a new
    interpreter: the same command, streams, process group and exit code as a Child."""

    def __init__(self, zygote: Zygote, command: list[str],
                 env: dict[str, str] | None = None) -> None:
        self.started = time.monotonic()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        try:
            self.pid, self._report = zygote.fork(command, env, out_w, err_w)
        except BaseException:
            for fd in (out_r, err_r):
                os.close(fd)
            raise
        finally:
            os.close(out_w)
            os.close(err_w)
        # One thread reads the exit code; any number may wait for it (the run's thread
        # and the daemon's stop both do, as both may call Popen.wait on a Child).
        self._code: int | None = None
        self._exited = threading.Event()
        threading.Thread(target=self._read_exit, daemon=True,
                         name=f"child-{self.pid}-exit").start()
        self._start_readers(os.fdopen(out_r, "rb"), os.fdopen(err_r, "rb"))

    def _read_exit(self) -> None:
        with self._report:
            self._code = read_exit(self._report)
        self._exited.set()

    def _exit_code(self, timeout: float) -> int | None:
        return self._code if self._exited.wait(timeout) else None


def start_child(command: list[str], env: dict[str, str] | None = None,
                zygote: Zygote | None = None, *, parent_pid_var: str | None = None) -> Child:
    """A crawl child, forked by the zygote when there is a live one, else a new
    interpreter (the same command either way). `parent_pid_var`: an environment variable
    that tells the child which process is its parent (the zygote or this one), for a
    child that must die with it (cluster/child.py)."""
    def with_parent(parent: int) -> dict[str, str] | None:
        if parent_pid_var is None:
            return env
        return {**(os.environ if env is None else env), parent_pid_var: str(parent)}

    if zygote is not None and zygote.alive:
        try:
            return ForkedChild(zygote, command, with_parent(zygote.pid))
        except ZygoteUnavailable as exc:
            log.warning("the zygote cannot fork (%s); starting the crawl as a new process",
                        exc)
    return Child(command, with_parent(os.getpid()))


def _summary_line(stdout: str) -> dict | None:
    for line in reversed(stdout.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                data = json.loads(line)
            except ValueError:
                continue
            if isinstance(data, dict) and "sources" in data:
                return data
    return None


def judge(child: Child, code: int, sources: list[str], timeout: float) -> dict[str, RunResult]:
    """Per-source results from how the child ended and what it printed."""
    if child.stopped_as == TIMEOUT:
        error = f"killed after the crawl timeout of {timeout:g} s"
        return {s: RunResult(outcome=TIMEOUT, error=error) for s in sources}
    if child.stopped_as == KILLED:
        return {s: RunResult(outcome=KILLED, error=STOPPED_WITH_DAEMON) for s in sources}
    summary = _summary_line(child.stdout) if code == 0 else None
    if summary is None:
        if code < 0:
            reason = f"child killed by signal {-code} ({signal.Signals(-code).name})"
            outcome = KILLED
        else:
            reason = f"child exited with code {code}"
            outcome = FAILED
        tail = [line for line in child.stderr_tail if line]
        if tail:
            reason += f": {tail[-1][:500]}"
        return {s: RunResult(outcome=outcome, error=reason) for s in sources}
    by_name = {entry.get("source"): entry for entry in summary.get("sources", [])}
    results = {}
    for source in sources:
        entry = by_name.get(source)
        results[source] = (RunResult.from_summary(entry) if entry is not None else
                           RunResult(outcome=FAILED, error="the child did not crawl this source"))
    return results


@dataclass
class _Batch:
    sources: list[str]
    open: bool = True
    done: threading.Event = field(default_factory=threading.Event)
    results: dict[str, RunResult] = field(default_factory=dict)


@dataclass
class RunnerSettings:
    timeout: timedelta
    max_children: int
    batch_window: timedelta
    batch_max: int


class ActiveRuns:
    """What the daemon's stop asks of whatever runs its crawls (local children, or
    workers through a broker): stop starting new ones, and say when the started ones are
    done. Subclasses count each run in `_active` under `_lock` and notify on its end."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._active = 0
        self._stopping = threading.Event()

    def stop_starting(self) -> None:
        """No new runs from now on; batches not yet started are dropped."""
        self._stopping.set()
        with self._lock:
            self._lock.notify_all()

    def idle(self) -> bool:
        with self._lock:
            return self._active == 0

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every started run has recorded its results (or the timeout)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._active:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._lock.wait(remaining)
            return True


class CrawlRunner(ActiveRuns):
    """Runs sources in children: batches those due together, caps how many run at once.

    `run_source` blocks its caller (an APScheduler worker thread) until the source's crawl
    ended, which is what makes APScheduler's max_instances=1 mean "never crawled twice at
    once". The first source of a batch leads it: it waits `batch_window` for others to
    join, then runs the child; the others wait for its results.
    """

    def __init__(
        self,
        storage: Storage,
        settings: RunnerSettings,
        command: Callable[[list[str]], list[str]],
        env: dict[str, str] | None = None,
        fence: Callable[[], bool] | None = None,
        zygote: Zygote | None = None,
    ) -> None:
        self.storage = storage
        self.settings = settings
        self._command = command
        self._env = env
        self._zygote = zygote  # forks the children when alive (scheduler/zygote.py)
        # Asked right before each child starts: False (or an error) means this daemon's
        # lease is not provably its own any more, and nothing is launched.
        self._fence = fence
        super().__init__()  # _active: batches between their first source and their results
        self._open: _Batch | None = None
        self._running = 0  # children alive
        self._children: set[Child] = set()

    def run_source(self, source: str, *, alone: bool = False) -> RunResult | None:
        """Crawl one source (maybe with others); None when the daemon stopped first."""
        window = self.settings.batch_window.total_seconds()
        shareable = not alone and window > 0
        with self._lock:
            if self._stopping.is_set():
                return None
            batch = self._open
            if shareable and batch is not None and batch.open \
                    and len(batch.sources) < self.settings.batch_max:
                batch.sources.append(source)
                leader = False
            else:
                batch = _Batch([source])
                leader = True
                self._active += 1
                if shareable:
                    self._open = batch
        if not leader:
            batch.done.wait()
            return batch.results.get(source)
        try:
            if shareable:
                self._stopping.wait(window)  # gather the sources due with this one
            with self._lock:
                while self._running >= self.settings.max_children and not self._stopping.is_set():
                    self._lock.wait()
                batch.open = False
                if self._open is batch:
                    self._open = None
                if self._stopping.is_set():
                    return None
                self._running += 1
            try:
                if not self._fenced(batch.sources):
                    return None
                batch.results = self._run_child(batch.sources)
            finally:
                with self._lock:
                    self._running -= 1
                    self._lock.notify_all()
            return batch.results.get(source)
        finally:
            batch.done.set()
            with self._lock:
                self._active -= 1
                self._lock.notify_all()

    def _fenced(self, sources: list[str]) -> bool:
        if self._fence is None:
            return True
        try:
            if self._fence():
                return True
            reason = "this daemon's lease is no longer valid (lost or not renewed in time)"
        except Exception as exc:  # the database cannot be asked: not provably ours
            reason = f"the daemon lease cannot be checked ({str(exc).splitlines()[0]})"
        log.error("not starting the crawl of %s: %s", ", ".join(sources), reason,
                  extra={"fields": {"event": "fenced", "sources": sources}})
        return False

    def _run_child(self, sources: list[str]) -> dict[str, RunResult]:
        timeout = self.settings.timeout.total_seconds()
        batch_id = uuid.uuid4().hex[:16]
        started_at = datetime.now(UTC)
        try:
            child = start_child(self._command(sources), self._env, self._zygote)
        except OSError as exc:
            results = {s: RunResult(outcome=FAILED, error=f"cannot start the child: {exc}")
                       for s in sources}
            run_ids = start_runs(self.storage, batch_id, sources, started_at, None)
            finish_runs(self.storage, run_ids, results, datetime.now(UTC))
            self._log(batch_id, run_ids, results, 0.0, None)
            return results
        with self._lock:
            self._children.add(child)
        try:
            try:
                run_ids = start_runs(self.storage, batch_id, sources, started_at, child.pid)
            except Exception:
                child.stop(KILLED)
                raise
            code = child.wait(timeout)
            if code is None:
                log.warning("crawl of %s passed the timeout of %g s; killing pid %d",
                            ", ".join(sources), timeout, child.pid)
                code = child.stop(TIMEOUT)
        finally:
            with self._lock:
                self._children.discard(child)
        results = judge(child, code, sources, timeout)
        finish_runs(self.storage, run_ids, results, datetime.now(UTC))
        self._log(batch_id, run_ids, results, time.monotonic() - child.started, child.pid)
        return results

    def _log(self, batch: str, run_ids: dict[str, int], results: dict[str, RunResult],
             seconds: float, pid: int | None) -> None:
        for source, result in results.items():
            fields = {
                "event": "crawl_run", "source": source, "outcome": result.outcome,
                "seen": result.seen, "new": result.new, "failed": result.failed,
                "requests": result.requests, "bytes": result.bytes,
                "seconds": round(seconds, 2), "batch": batch, "batch_size": len(results),
                "run_id": run_ids.get(source), "pid": pid, "error": result.error,
            }
            message = (f"run {result.outcome}: {source} seen={result.seen} new={result.new} "
                       f"failed={result.failed} bytes={result.bytes} {seconds:.1f}s")
            if result.error:
                message += f" ({result.error})"
            level = logging.INFO if result.outcome == "ok" else logging.WARNING
            log.log(level, message, extra={"fields": fields})

    # ------------------------------------------------------------------ shutdown

    def stop_children(self, reason: str = KILLED) -> int:
        """Stop every live child (in parallel); returns how many there were."""
        with self._lock:
            children = list(self._children)
        stoppers = [threading.Thread(target=child.stop, args=(reason,)) for child in children]
        for stopper in stoppers:
            stopper.start()
        for stopper in stoppers:
            stopper.join()
        return len(children)

    def live_children(self) -> list[int]:
        with self._lock:
            return [child.pid for child in self._children]
