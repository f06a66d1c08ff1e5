"""Every table of storywatch, imported in one place for Alembic and for tests."""

from storywatch.storage.classify import NearCopyBand, SeedPage
from storywatch.storage.models import Base, Item, ItemUrl, Judgement

__all__ = ["Base", "Item", "ItemUrl", "Judgement", "NearCopyBand", "SeedPage"]
