"""Tables of the classifier: near-copy band keys and fetched topic seeds.

Band keys live in the database, not in memory: an indexed (band_key, item_id) table costs
well under 1 KB per item and a lookup is a b-tree probe per band, so its time does not
grow with the number of stored items (benchmarks/near_copies.py measures both).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storywatch.storage.models import URL_LENGTH, Base


class NearCopyBand(Base):
    __tablename__ = "near_copy_bands"
    # SQLite: the primary key is the table (no rowid copy), which halves its size.
    __table_args__ = ({"sqlite_with_rowid": False},)

    band_key: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    item_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("items.id", ondelete="CASCADE"), primary_key=True
    )


class SeedPage(Base):
    """A seed given as a URL, fetched once and kept so the daemon does not refetch it."""

    __tablename__ = "seed_pages"

    url: Mapped[str] = mapped_column(String(URL_LENGTH), primary_key=True)
    title: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(8))
    fetched_at: Mapped[datetime]
    # The page's own publication time: the seed event's date (classify.features).
    published_at: Mapped[datetime | None]
