"""kill -9 at a chosen moment: the helper behind the crash tests, for any command.

`kill_when` starts a command and SIGKILLs it as soon as a condition holds (N items in
the database, a moment after start); the crash tests use it on `storywatch crawl`, and
the daemon's tests can use it on `storywatch run` the same way.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

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
    started = time.monotonic()
    process = subprocess.Popen(list(command), env=child_env(), cwd=REPO,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    stop = threading.Event()
    try:
        while process.poll() is None:
            if condition():
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=30)
                return KillResult(True, process.returncode, time.monotonic() - started)
            if time.monotonic() - started > deadline:
                raise TimeoutError(f"{command} neither finished nor met the condition")
            stop.wait(POLL_SECONDS)  # a polling interval, not a synchronisation sleep
        return KillResult(False, process.returncode, time.monotonic() - started)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)


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
