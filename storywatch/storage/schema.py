"""Every table of storywatch, imported in one place for Alembic and for tests."""

from storywatch.storage.models import Base, Item, ItemUrl, Judgement
from storywatch.storage.validators import HttpValidator

__all__ = ["Base", "HttpValidator", "Item", "ItemUrl", "Judgement"]
