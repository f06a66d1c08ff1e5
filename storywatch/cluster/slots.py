"""Per-host request slots shared by every worker: politeness across the cluster.

Scrapy's CONCURRENT_REQUESTS_PER_DOMAIN (crawl.concurrency_per_domain) holds within one
crawl process; four workers crawling sources on one host would send four times as many
requests at once. Here a host has `concurrency_per_domain` slots in Redis for the whole
cluster, each a redis-py Lock (SET NX with an expiry, released by its token): a request
is sent only while it holds one. A slot held by a worker that died frees itself when its
lock expires (download timeout + a margin), so a kill -9 cannot starve a host.

With a download delay, a slot is also given only when no request to the host started
within the delay anywhere in the cluster: a key per host set with NX and that expiry
(one round trip), so requests to a host start at least the delay apart, whatever the
number of workers.
"""

from __future__ import annotations

import contextlib
import random

import redis
from redis.exceptions import LockError, RedisError
from redis.lock import Lock

KEY_PREFIX = "storywatch:host-slot:"
DELAY_PREFIX = "storywatch:host-delay:"


class HostSlots:
    def __init__(self, url: str, per_host: int, ttl_seconds: float, *,
                 delay_seconds: float = 0.0) -> None:
        self.client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self.per_host = per_host
        self.ttl = ttl_seconds
        self.delay_ms = round(delay_seconds * 1000)

    def try_acquire(self, host: str) -> Lock | None:
        """A free slot of the host, now, or None (all busy). A Redis that cannot be reached
        gives a slot-less pass (None would stall every crawl on a Redis outage): the
        worker's own per-domain limit still holds."""
        order = list(range(self.per_host))
        random.shuffle(order)
        for index in order:
            lock = self.client.lock(f"{KEY_PREFIX}{host}:{index}", timeout=self.ttl,
                                    blocking=False)
            try:
                if not lock.acquire(blocking=False):
                    continue
                if self._delay_passed(host):
                    return lock
            except RedisError:
                self.release(lock)  # if it was taken before Redis failed
                return _NO_SLOT
            self.release(lock)
            return None
        return None

    def _delay_passed(self, host: str) -> bool:
        """No request to the host started within the delay; this one starts now."""
        if self.delay_ms <= 0:
            return True
        return bool(self.client.set(f"{DELAY_PREFIX}{host}", 1, nx=True, px=self.delay_ms))

    @staticmethod
    def release(lock: Lock) -> None:
        if lock is _NO_SLOT:
            return
        with contextlib.suppress(LockError, RedisError):  # expired, or Redis gone
            lock.release()

    def close(self) -> None:
        self.client.close()


class _Unlocked(Lock):
    """The pass given while Redis is unreachable."""

    def __init__(self) -> None:  # no Redis behind it
        pass


_NO_SLOT: Lock = _Unlocked()
