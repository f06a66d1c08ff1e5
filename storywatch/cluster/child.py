"""The crawl child's side of cluster mode: who its worker is, and dying with it.

The worker passes its id in the environment of the `storywatch crawl` child it starts
(the same command the daemon runs locally). A child whose worker was killed with -9 must
not crawl on unseen while the job is redelivered to another worker: on Linux it asks the
kernel for SIGKILL when its parent dies (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import os
from datetime import timedelta

from storywatch import lifeline
from storywatch.cluster.claims import UrlClaims
from storywatch.cluster.slots import HostSlots
from storywatch.config import Config
from storywatch.storage import open_storage

WORKER_ENV = "STORYWATCH_WORKER"
WORKER_PID_ENV = "STORYWATCH_WORKER_PID"
# A claim outlives the crawl that took it by this much at most (if its worker's row says
# alive although the worker is gone, e.g. a frozen host).
CLAIM_MARGIN = timedelta(minutes=5)
# A host slot outlives the longest download by this much (then a dead worker's is free).
SLOT_MARGIN_SECONDS = 30.0


def die_with_parent() -> None:
    """SIGKILL this process when its parent (the worker, or its zygote) dies."""
    expected = os.environ.get(WORKER_PID_ENV)
    lifeline.die_with_parent(int(expected) if expected else None)


def host_slots(config: Config) -> HostSlots | None:
    """The cluster-wide per-host slots, when this crawl runs for a worker and the cluster
    has a Redis for them."""
    if not os.environ.get(WORKER_ENV) or config.cluster is None:
        return None
    url = config.cluster.slots_url()
    if url is None:
        return None
    crawl = config.crawl
    return HostSlots(url, crawl.concurrency_per_domain,
                     crawl.download_timeout.total_seconds() + SLOT_MARGIN_SECONDS,
                     delay_seconds=crawl.download_delay.total_seconds())


def worker_claims(config: Config) -> UrlClaims | None:
    """The claims of the worker that started this crawl, or None outside cluster mode."""
    owner = os.environ.get(WORKER_ENV)
    if not owner:
        return None
    die_with_parent()
    storage = open_storage(config.storage.url, migrate=False)
    return UrlClaims(storage, owner, config.crawl.timeout + CLAIM_MARGIN)
