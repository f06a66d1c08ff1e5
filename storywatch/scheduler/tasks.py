"""Periodic jobs other than crawls, run by the daemon next to the crawl schedule.

To add one, add a line to TASKS. The function is given by reference ("module:function")
so it is imported only when it first runs, and is called as ``function(config, storage,
now)`` in a worker thread of the daemon (not in a crawl child): at most one run at a
time, exceptions logged and never fatal. For example the digest mailer::

    PeriodicTask("digests", "storywatch.notify:send_due_digests", every=timedelta(minutes=5)),
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class PeriodicTask:
    name: str
    func: str  # "package.module:function", called as function(config, storage, now)
    every: timedelta | None = None
    cron: str | None = None  # crontab, in the daemon's time zone
    requires: str | None = None  # a config section that must be set, e.g. "smtp"

    def enabled(self, config: object) -> bool:
        """A task whose section is not configured is not scheduled (no error every period)."""
        return self.requires is None or getattr(config, self.requires, None) is not None

    def __post_init__(self) -> None:
        if (self.every is None) == (self.cron is None):
            raise ValueError(f"periodic task {self.name!r}: give exactly one of every / cron")


TASKS: list[PeriodicTask] = [
    # Digests are due at each subscription's own time; every minute keeps "07:00" on time.
    PeriodicTask("digests", "storywatch.notify:send_due_digests", every=timedelta(minutes=1),
                 requires="smtp"),
]
