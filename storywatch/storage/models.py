"""Items, their known URLs and the per-topic judgements on them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from storywatch.storage.types import UTCDateTime

# Long enough for real article URLs, short enough for a PostgreSQL b-tree index entry.
URL_LENGTH = 2000


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(), dict[str, Any]: JSON, list[str]: JSON
    }


class Item(Base):
    __tablename__ = "items"

    id: Mapped[int] = mapped_column(primary_key=True)
    canonical_url: Mapped[str] = mapped_column(String(URL_LENGTH), unique=True)
    url: Mapped[str] = mapped_column(String(URL_LENGTH))
    title: Mapped[str | None] = mapped_column(Text)
    authors: Mapped[list[str]] = mapped_column(JSON, default=list)
    published_at: Mapped[datetime | None] = mapped_column(index=True)
    fetched_at: Mapped[datetime] = mapped_column(index=True)
    language: Mapped[str | None] = mapped_column(String(8))
    text: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(200), index=True)
    discovered_via: Mapped[str] = mapped_column(String(20))
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    word_count: Mapped[int] = mapped_column(Integer)
    extractor: Mapped[str] = mapped_column(String(40))

    judgements: Mapped[list[Judgement]] = relationship(
        back_populates="item", cascade="all, delete-orphan"
    )


class ItemUrl(Base):
    """Every URL form an item is known by (canonical, as fetched, AMP, tracking variants).

    Looked up before a request is sent, so an article found again under another form is
    not downloaded again.
    """

    __tablename__ = "item_urls"

    url: Mapped[str] = mapped_column(String(URL_LENGTH), primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)


class Judgement(Base):
    """The decision on one item for one topic, with the reasons that explain it."""

    __tablename__ = "judgements"
    __table_args__ = (
        UniqueConstraint("item_id", "topic", name="uq_judgement_item_topic"),
        Index("ix_judgements_topic_status", "topic", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    topic: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))
    duplicate_of: Mapped[str | None] = mapped_column(String(URL_LENGTH))
    cluster_id: Mapped[str | None] = mapped_column(String(64), index=True)
    relevance: Mapped[float | None] = mapped_column(Float)
    novelty: Mapped[float | None] = mapped_column(Float)
    # The probability of the chosen status (storywatch.classify.model): low = worth a look.
    confidence: Mapped[float | None] = mapped_column(Float)
    reasons: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    decided_at: Mapped[datetime]

    item: Mapped[Item] = relationship(back_populates="judgements")


class Label(Base):
    """A person's judgement of an item for a topic, kept apart from the machine's.

    Rescoring rewrites judgements, never labels; the classifier reads labels back as
    corrections (storywatch.classify.decide).
    """

    __tablename__ = "labels"
    __table_args__ = (UniqueConstraint("item_id", "topic", name="uq_label_item_topic"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    topic: Mapped[str] = mapped_column(String(200), index=True)
    status: Mapped[str] = mapped_column(String(20))
    labelled_at: Mapped[datetime]
    note: Mapped[str | None] = mapped_column(Text)


class TopicLock(Base):
    """One row per topic, written first by every judging transaction of that topic.

    The write serialises judging across processes (SQLite lets one writer in at a time,
    and a transaction whose first statement writes reads the newest data), so two
    crawls of one topic see each other's follow-ups and put one development in one
    cluster. PostgreSQL uses an advisory lock instead (storage.locks).
    """

    __tablename__ = "topic_locks"

    topic: Mapped[str] = mapped_column(String(200), primary_key=True)
    writes: Mapped[int] = mapped_column(Integer, default=0)
