"""Tables of cluster mode: the workers' pulse and the URL claims that keep fetches unique.

Both live in the shared database (PostgreSQL in a real cluster), not in the broker: a
claim must be checked in the same store that says whether the article is stored, and
`storywatch status` reads the workers from any host that reaches the database.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from storywatch.storage.models import URL_LENGTH, Base


class ClusterWorker(Base):
    """One `storywatch worker` process: registered at start, renewed by its heartbeat,
    deleted at a clean stop; a row whose lease expired is a dead worker."""

    __tablename__ = "cluster_workers"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)  # host:pid:random
    host: Mapped[str] = mapped_column(String(200))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime]
    heartbeat_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    # "source (run N)" while it crawls, None while idle.
    current_job: Mapped[str | None] = mapped_column(String(400))
    jobs_done: Mapped[int] = mapped_column(Integer, default=0)


class UrlClaim(Base):
    """A worker's claim on an article's canonical URL, taken before the request is sent.

    Taken with one conditional upsert: free, expired, held by a dead worker, or already
    ours. A stored article needs no claim (item_urls says it is known); the claims of a
    finished crawl are deleted, those of a killed one die with their worker's lease.
    """

    __tablename__ = "url_claims"

    url: Mapped[str] = mapped_column(String(URL_LENGTH), primary_key=True)
    owner: Mapped[str] = mapped_column(String(200), index=True)
    claimed_at: Mapped[datetime]
    expires_at: Mapped[datetime]
