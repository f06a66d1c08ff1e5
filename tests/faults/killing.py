"""kill -9 at a chosen moment: the helper behind the crash tests, for any command.

`kill_when` starts a command and SIGKILLs it as soon as a condition holds (N items in
the database, a moment after start); the crash tests use it on `storywatch crawl`.
`kill_process_when` does the same to a process started elsewhere (the daemon of
tests/test_crash_daemon.py, whose log the test reads). `crawl_children` finds the
daemon's crawl children in the process tree, and `reap_strays` deals with the children a
SIGKILLed daemon leaves behind (they run in their own process groups).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import psutil
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import SQLAlchemyError

from tests.conftest import REPO
from tests.faults.crawling import child_env

# How often the condition is checked: a crawl of a local server stores an item every
# few milliseconds, so 5 ms keeps the kill within an item or two of the chosen point.
POLL_SECONDS = 0.005


@dataclass
class KillResult:
    killed: bool  # False: the command finished before the condition held
    returncode: int
    seconds: float  # from start to kill (or exit)


def kill_when(command: Sequence[str], condition: Callable[[], bool], *,
              deadline: float = 120) -> KillResult:
    """Run `command`; SIGKILL its whole process group the moment `condition()` is true."""
    process = subprocess.Popen(list(command), env=child_env(), cwd=REPO,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    return kill_process_when(process, condition, deadline=deadline, group=True)


def kill_process_when(process: subprocess.Popen, condition: Callable[[], bool], *,
                      deadline: float = 120, group: bool = False) -> KillResult:
    """SIGKILL a running process (its group with `group`) the moment `condition()` is true.

    Without `group` only the process itself dies, as with `kill -9 PID`: a daemon's crawl
    children live in their own process groups and are left running, as in production.
    """

    def kill() -> None:
        with contextlib.suppress(ProcessLookupError):
            if group:
                os.killpg(process.pid, signal.SIGKILL)
            else:
                process.kill()
        process.wait(timeout=30)

    try:
        killed, seconds = _poll(lambda: process.poll() is None, condition, kill, deadline,
                                str(process.args))
        return KillResult(killed, process.returncode, seconds)
    finally:
        if process.poll() is None:
            kill()


def kill_child_when(child: psutil.Process, condition: Callable[[], bool], *,
                    deadline: float = 120) -> KillResult:
    """SIGKILL the process group of someone else's child (a daemon's crawl) on `condition`.

    The test cannot wait() for it (its parent will), so "ended" is psutil's view.
    """

    def alive() -> bool:
        try:
            return child.status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False

    def kill() -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.pid, signal.SIGKILL)

    killed, seconds = _poll(alive, condition, kill, deadline, f"pid {child.pid}")
    return KillResult(killed, -signal.SIGKILL if killed else 0, seconds)


def _poll(alive: Callable[[], bool], condition: Callable[[], bool], kill: Callable[[], None],
          deadline: float, what: str) -> tuple[bool, float]:
    """(killed, seconds): kill as soon as `condition()` holds, unless it ended first."""
    started = time.monotonic()
    stop = threading.Event()
    while alive():
        if condition():
            kill()
            return True, time.monotonic() - started
        if time.monotonic() - started > deadline:
            raise TimeoutError(f"{what} neither finished nor met the condition")
        stop.wait(POLL_SECONDS)  # a polling interval, not a synchronisation sleep
    return False, time.monotonic() - started


def processes_with(marker: str) -> list[psutil.Process]:
    """Live processes whose command line mentions `marker` (a test's unique config path)."""
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        cmdline = proc.info.get("cmdline") or []
        if proc.info.get("status") != psutil.STATUS_ZOMBIE and any(marker in a for a in cmdline):
            found.append(proc)
    return found


def crawl_children(daemon_pid: int) -> list[psutil.Process]:
    """The `storywatch ... crawl` children of a daemon, found in the process tree (forked
    by its zygote, they are its grandchildren)."""
    try:
        children = psutil.Process(daemon_pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    found = []
    for child in children:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            if "crawl" in child.cmdline() and child.status() != psutil.STATUS_ZOMBIE:
                found.append(child)
    return found


@dataclass
class Strays:
    found: int  # processes of the test still running after its daemon was SIGKILLed
    finished: int  # ... that ended by themselves within the deadline
    killed: int  # ... that had to be killed at the deadline
    seconds: float  # from the call until the last of them ended


def reap_strays(strays: list[psutil.Process], *, timeout: float) -> Strays:
    """Wait up to `timeout` s for orphaned children to end; SIGKILL those that do not.

    An orphan is re-parented to init (or the nearest subreaper), so the test cannot wait()
    for it: psutil polls it instead. Take `strays` with `processes_with` right after the
    kill, while no other process of the test mentions its marker.
    """
    started = time.monotonic()
    _gone, alive = psutil.wait_procs(strays, timeout=timeout)
    for proc in alive:
        with contextlib.suppress(ProcessLookupError, PermissionError, psutil.NoSuchProcess):
            os.killpg(proc.pid, signal.SIGKILL)
    psutil.wait_procs(alive, timeout=30)
    return Strays(len(strays), len(strays) - len(alive), len(alive),
                  time.monotonic() - started)


class ItemCounter:
    """Counts stored items through one long-lived engine (a fresh one per poll is slow)."""

    def __init__(self, database_url: str) -> None:
        self.engine = create_engine(database_url)

    def __call__(self) -> int:
        try:
            with self.engine.connect() as conn:
                return int(conn.execute(text("SELECT count(*) FROM items")).scalar_one())
        except SQLAlchemyError:  # no schema yet: the child is still migrating
            return 0

    def close(self) -> None:
        self.engine.dispose()


def after_items(counter: ItemCounter, n: int) -> Callable[[], bool]:
    return lambda: counter() >= n


def after_seconds(seconds: float) -> Callable[[], bool]:
    until = time.monotonic() + seconds
    return lambda: time.monotonic() >= until


def skip_unless_slow_selected(request: pytest.FixtureRequest) -> None:
    """The slow loops run only when asked for with -m slow (minutes each).

    `-m "not slow"` deselects them through the marker itself; with no -m at all they are
    collected, and this skip keeps the default run short.
    """
    if "slow" not in (request.config.getoption("markexpr") or ""):
        pytest.skip("slow kill -9 loop: run with -m slow")
