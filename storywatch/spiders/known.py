"""URLs stored before this crawl, read once: the known-article check with no query per request.

Every URL form of every stored item is hashed to 64 bits and kept in one sorted numpy
array: 8 bytes per URL (a Python set of the strings costs ~100), so a database of a
million URLs costs 8 MB, and a look-up is a binary search. Two different URLs share a
hash with probability ~n/2^64 per look-up (5e-14 at a million stored URLs); such an
article would be taken for stored and skipped, which is accepted.

The array is a snapshot taken at the first article request of the run. Articles stored
during the run are in the run's requested set (RunContext.requested_urls), which is
checked first; an article another process stores meanwhile is downloaded once more and
its upsert finds it stored.
"""

from __future__ import annotations

import hashlib

import numpy as np
from sqlalchemy import select

from storywatch.storage import Storage
from storywatch.storage.models import ItemUrl

# Rows fetched per round trip while the snapshot is read.
_CHUNK = 10_000


def url_hash(url: str) -> int:
    return int.from_bytes(hashlib.blake2b(url.encode("utf-8"), digest_size=8).digest(), "big")


class KnownUrls:
    """Membership of URLs stored before this run, from one read of item_urls."""

    def __init__(self, hashes: np.ndarray) -> None:
        self.hashes = np.unique(hashes.astype(np.uint64))  # sorted, no repeats

    @classmethod
    def load(cls, storage: Storage) -> KnownUrls:
        parts: list[np.ndarray] = []
        with storage.engine.connect() as connection:
            result = connection.execution_options(yield_per=_CHUNK).execute(select(ItemUrl.url))
            for rows in result.partitions():
                parts.append(np.fromiter((url_hash(url) for (url,) in rows), dtype=np.uint64,
                                         count=len(rows)))
        return cls(np.concatenate(parts) if parts else np.empty(0, dtype=np.uint64))

    def __contains__(self, url: object) -> bool:
        if not isinstance(url, str) or not len(self.hashes):
            return False
        key = np.uint64(url_hash(url))
        at = int(np.searchsorted(self.hashes, key))
        return at < len(self.hashes) and self.hashes[at] == key

    def __len__(self) -> int:
        return len(self.hashes)
