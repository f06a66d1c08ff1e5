"""Clusters: reports of the same development from several outlets form one cluster.

A follow-up brings new anchors (numbers, names, places the seeds do not have). Two
follow-ups close in time that share at least `min_shared` of them, and at least half of
the smaller set (so a long report that mentions a case in passing does not join that
case's cluster), report the same development — whatever their language, because
anchors are language-free. The first one is the
cluster's representative; the cluster id is "c<its item id>".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta


@dataclass
class Development:
    item_id: int
    url: str
    cluster_id: str
    anchors: set[str]
    published_at: datetime | None


@dataclass
class ClusterIndex:
    """Recent follow-ups of one topic and their new anchors, kept in memory (they are few)."""

    min_shared: int
    window: timedelta
    min_overlap: float = 0.5
    developments: list[Development] = field(default_factory=list)

    def add(self, development: Development) -> None:
        self.developments.append(development)

    def match(
        self, anchors: set[str], published_at: datetime | None, *, exclude: int | None = None
    ) -> tuple[Development, list[str]] | None:
        """The earlier follow-up sharing the most anchors (at least min_shared), if any."""
        best: tuple[Development, list[str]] | None = None
        for dev in self.developments:
            if dev.item_id == exclude:
                continue
            if published_at and dev.published_at and abs(published_at - dev.published_at) \
                    > self.window:
                continue
            shared = sorted(anchors & dev.anchors)
            smaller = min(len(anchors), len(dev.anchors)) or 1
            if len(shared) < self.min_shared or len(shared) / smaller < self.min_overlap:
                continue
            if best is None or len(shared) > len(best[1]):
                best = (dev, shared)
        return best


def new_cluster_id(item_id: int) -> str:
    return f"c{item_id}"
