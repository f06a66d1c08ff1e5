"""Batches: items collected on the reactor and written together, on one writer thread.

One transaction per item cost more than the item's own SQL, and judging on the reactor
thread stalled every download meanwhile. Here items are gathered into batches of up to
`max_items`, or whatever arrived within `max_seconds` of the first, and each batch is
written (stored and judged) in one transaction by a single writer (a thread, or the
crawl's writer process), in arrival order. One writer: the classifier's per-topic state
sees items in order, as it did inline.

A batch is all or nothing, so kill -9 at any moment leaves each article either stored and
judged or absent (the next crawl fetches it again): nothing is lost or duplicated.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

# A batch of 50 amortises the commit (an fsync) and the statement set-up; a second is
# the longest an item waits for its transaction. Items a crash costs are fetched again.
MAX_ITEMS = 50
MAX_SECONDS = 1.0
# Batches handed to the writer and not yet written: past this, submitters wait, so a
# slow database slows the crawl down instead of queueing items in memory.
MAX_QUEUED_BATCHES = 2


class BatchWriter(Generic[T, R]):
    """Collects items on the event loop; `write(batch)` runs on one thread, batch by batch.

    `write` returns one result per item, in order; `done(item, result)` (or `failed(item,
    exception)` if `write` raised) is then called on the event loop for each item.
    """

    def __init__(
        self,
        write: Callable[[list[T]], list[R]],
        done: Callable[[T, R], None],
        failed: Callable[[T, BaseException], None],
        *,
        max_items: int = MAX_ITEMS,
        max_seconds: float = MAX_SECONDS,
        executor: Executor | None = None,
    ) -> None:
        self.write = write
        self.done = done
        self.failed = failed
        self.max_items = max_items
        self.max_seconds = max_seconds
        self._pending: list[T] = []
        self._timer: asyncio.TimerHandle | None = None
        self._queued: set[asyncio.Future[list[R]]] = set()
        # The given executor must run one call at a time (one worker), in order; by
        # default a thread of our own, shut down by close().
        self._own_executor = executor is None
        self._executor: Executor = executor or ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="storywatch-writer")
        self.batches = 0
        self.waited = 0.0  # seconds submitters spent waiting for the writer to catch up

    async def submit(self, item: T) -> None:
        """Add an item; returns at once unless the writer is MAX_QUEUED_BATCHES behind."""
        loop = asyncio.get_running_loop()
        self._pending.append(item)
        if len(self._pending) >= self.max_items:
            self._flush()
        elif self._timer is None:
            self._timer = loop.call_later(self.max_seconds, self._flush)
        if len(self._queued) >= MAX_QUEUED_BATCHES:
            started = loop.time()
            while len(self._queued) >= MAX_QUEUED_BATCHES:
                await asyncio.wait(set(self._queued), return_when=asyncio.FIRST_COMPLETED)
            self.waited += loop.time() - started

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._pending = self._pending, []
        if not batch:
            return
        self.batches += 1
        future = asyncio.wrap_future(self._executor.submit(self.write, batch))
        self._queued.add(future)
        future.add_done_callback(lambda f: self._finished(batch, f))

    def _finished(self, batch: list[T], future: asyncio.Future[list[R]]) -> None:
        self._queued.discard(future)
        error = future.exception()
        if error is not None:
            for item in batch:
                self.failed(item, error)
            return
        for item, result in zip(batch, future.result(), strict=True):
            self.done(item, result)

    async def close(self) -> None:
        """Write what is pending and wait for every batch; then stop the writer thread."""
        self._flush()
        while self._queued:
            await asyncio.wait(set(self._queued))
        if self._own_executor:
            self._executor.shutdown(wait=True)
