"""Claims on canonical URLs: two workers never both fetch (or store) one article.

Asked by KnownArticleMiddleware for each article request that passed the local checks,
before anything is sent. One round trip: the URL is known when item_urls has it (stored by
any worker, even after this crawl's snapshot of stored URLs was read); else one
conditional upsert takes the claim when it is free, expired, ours, or held by a worker
whose lease expired (killed -9, its host gone). A claim outlives the storing of its
article only until the crawl ends (`release_all`): from then on item_urls answers.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, delete, exists, literal_column, select

from storywatch.storage import Storage
from storywatch.storage.cluster import ClusterWorker, UrlClaim
from storywatch.storage.models import ItemUrl
from storywatch.storage.outage import through_outage
from storywatch.storage.repository import dialect_insert

KNOWN, CLAIMED, TAKEN = "known", "claimed", "taken"


class UrlClaims:
    """The claims of one worker, used by the crawl child it started."""

    def __init__(self, storage: Storage, owner: str, ttl: timedelta) -> None:
        self.storage = storage
        self.owner = owner
        # A claim not renewed by a live worker for this long is free even if its owner's
        # row says alive: a bound for the case of a clock or registry gone wrong.
        self.ttl = ttl

    def claim(self, url: str, now: datetime | None = None) -> str:
        """KNOWN (stored already), CLAIMED (ours now) or TAKEN (another live worker's).

        Through a database restart the crawl waits here (on the reactor thread: nothing
        could be stored meanwhile anyway) rather than drop the article for this run."""
        return through_outage(lambda: self._claim(url, now), what=f"claim of {url}")

    def _claim(self, url: str, now: datetime | None) -> str:
        now = now or datetime.now(UTC)
        with self.storage.session() as session:
            if session.execute(select(ItemUrl.item_id).where(ItemUrl.url == url)).first():
                return KNOWN
            # The owner of the conflicting claim row, named as SQL: with the mapped column
            # SQLAlchemy gave the subquery a url_claims of its own (an ON CONFLICT target
            # has no enclosing FROM to correlate with), so it asked whether *any* claim had
            # a live owner, and a racer whose snapshot held none took a live worker's URL
            # (tests/test_cluster_claims.py, 8 threads: 3 "claimed" in 5 of 8 runs).
            conflicting_owner: ColumnElement[str] = literal_column(
                f"{UrlClaim.__tablename__}.owner")
            dead_owner = ~exists().where(ClusterWorker.id == conflicting_owner,
                                         ClusterWorker.expires_at > now)
            insert = dialect_insert(session, UrlClaim)
            statement = insert.values(url=url, owner=self.owner, claimed_at=now,
                                      expires_at=now + self.ttl).on_conflict_do_update(
                index_elements=["url"],
                set_={"owner": self.owner, "claimed_at": now, "expires_at": now + self.ttl},
                where=(UrlClaim.expires_at < now) | (UrlClaim.owner == self.owner) | dead_owner,
            ).returning(UrlClaim.owner)
            owner = session.execute(statement).scalar()
        return CLAIMED if owner == self.owner else TAKEN

    def release_all(self) -> int:
        """Drop this worker's claims (its crawl ended: stored articles are in item_urls,
        failed ones are free for the next crawl)."""
        return release_claims(self.storage, self.owner)


def release_claims(storage: Storage, owner: str) -> int:
    """Delete every URL claim of one worker; returns how many there were."""
    with storage.session() as session:
        done = session.execute(delete(UrlClaim).where(UrlClaim.owner == owner))
        return int(done.rowcount or 0)  # type: ignore[attr-defined]
