"""Every table of storywatch, imported in one place for Alembic and for tests."""

from storywatch.storage.daemon import CrawlRun, DaemonLease
from storywatch.storage.models import Base, Item, ItemUrl, Judgement

__all__ = ["Base", "CrawlRun", "DaemonLease", "Item", "ItemUrl", "Judgement"]
