"""Tables of the classifier: near-copy band keys and fetched topic seeds.

Band keys live in the database, not in memory: an indexed (band_key, item_id) table costs
well under 1 KB per item and a lookup is a b-tree probe per band, so its time does not
grow with the number of stored items (benchmarks/near_copies.py measures both).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text, bindparam
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from storywatch.storage.models import URL_LENGTH, Base, Judgement


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


_JUDGEMENT_COLUMNS = ("item_id", "topic", "status", "decided_at", "duplicate_of", "cluster_id",
                      "relevance", "novelty", "reasons")
_UPSERTS: dict[str, Any] = {}


def upsert_judgement(session: Session, values: dict[str, Any]) -> None:
    """repository.save_judgement's upsert, with the statement built once per dialect: the
    classifier writes one per item and topic, and rebuilding the statement cost more
    than executing it (benchmarks/classify_throughput.py)."""
    dialect = session.get_bind().dialect.name
    statement = _UPSERTS.get(dialect)
    if statement is None:
        insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(Judgement)
        insert = insert.values({c: bindparam(c, type_=Judgement.__table__.c[c].type)
                                for c in _JUDGEMENT_COLUMNS})
        statement = insert.on_conflict_do_update(
            index_elements=["item_id", "topic"],
            set_={c: insert.excluded[c] for c in _JUDGEMENT_COLUMNS
                  if c not in ("item_id", "topic")},
        )
        _UPSERTS[dialect] = statement
    session.connection().execute(statement, values)
