"""Every table of storywatch, imported in one place for Alembic and for tests."""

from storywatch.storage.classify import NearCopyBand, SeedPage
from storywatch.storage.cluster import ClusterWorker, UrlClaim
from storywatch.storage.daemon import CrawlRun, DaemonLease
from storywatch.storage.models import Base, Item, ItemUrl, Judgement
from storywatch.storage.notify import DigestDelivery, NotifySecret, Subscriber, Subscription
from storywatch.storage.validators import HttpValidator

__all__ = [
    "Base",
    "ClusterWorker",
    "CrawlRun",
    "DaemonLease",
    "DigestDelivery",
    "HttpValidator",
    "Item",
    "ItemUrl",
    "Judgement",
    "NearCopyBand",
    "NotifySecret",
    "SeedPage",
    "Subscriber",
    "Subscription",
    "UrlClaim",
]
