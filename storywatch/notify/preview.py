"""The digest a new subscriber would get now: for `digest preview`, the demo and the web
app's preview page, which all show it without sending or recording anything."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from storywatch.normalise.dates import utc_now

if TYPE_CHECKING:  # `storywatch --help` imports this module and must not pay for SQLAlchemy
    from storywatch.config import Config
    from storywatch.notify.digest import Digest
    from storywatch.storage import Storage


def recent_followups_digest(
    config: Config, storage: Storage, topic: str, tz: str = "UTC", now: datetime | None = None
) -> Digest | None:
    """The digest a new subscriber would get now: the topic's recent follow-ups."""
    from storywatch.notify.digest import build_digest, first_digest_start

    now = now or utc_now()
    with storage.session() as session:
        return build_digest(
            session, topic=topic, email="you@example.org", tz=tz,
            since=first_digest_start(now, config.digest.first_digest_covers),
            subscriber_id=None, max_items=config.digest.max_items,
            lead_chars=config.digest.lead_chars,
        )
