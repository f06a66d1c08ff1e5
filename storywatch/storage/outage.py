"""Riding out a database restart: retry a unit of work while the database is unreachable.

A cluster's workers share one PostgreSQL; when it restarts (an upgrade, a failover) every
connection breaks and new ones are refused for a few seconds. Work that can wait (a
batch of items to store, a URL claim) is retried until the database answers again, up to
a bound, instead of being given up and fetched again next run.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import InterfaceError, OperationalError

log = logging.getLogger(__name__)
T = TypeVar("T")

# Long enough for a PostgreSQL restart (a few seconds) or a short failover.
OUTAGE_SECONDS = 60.0
_PAUSE_SECONDS = 0.5


def through_outage(work: Callable[[], T], *, what: str, seconds: float = OUTAGE_SECONDS) -> T:
    """`work()`, retried on connection errors (OperationalError, InterfaceError) for up to
    `seconds`; other errors, and the last connection error, are raised."""
    deadline = time.monotonic() + seconds
    failures = 0
    while True:
        try:
            return work()
        except (OperationalError, InterfaceError) as exc:
            failures += 1
            if time.monotonic() >= deadline:
                raise
            if failures == 1:
                log.warning("%s: database unreachable (%s); retrying for up to %g s", what,
                            str(exc.orig or exc).strip().splitlines()[0], seconds)
            time.sleep(_PAUSE_SECONDS)
