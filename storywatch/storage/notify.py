"""Subscribers, their subscriptions, the digest send ledger and the notify secret.

The ledger is what makes delivery at-most-once: one row per (subscriber, item), written as
"sending" before the SMTP transaction and "sent" after it, so an item is never mailed twice
to the same person even when the process dies in between (see notify/ledger.py).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storywatch.storage.models import Base

# RFC 5321 caps a forward path at 256 octets, so an address never needs more.
EMAIL_LENGTH = 320


class Subscriber(Base):
    __tablename__ = "subscribers"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(EMAIL_LENGTH), unique=True)
    created_at: Mapped[datetime]

    subscriptions: Mapped[list[Subscription]] = relationship(
        back_populates="subscriber", cascade="all, delete-orphan"
    )


class Subscription(Base):
    """One subscriber following one topic on one schedule."""

    __tablename__ = "subscriptions"
    __table_args__ = (
        UniqueConstraint("subscriber_id", "topic", name="uq_subscription_subscriber_topic"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    topic: Mapped[str] = mapped_column(String(200), index=True)
    every: Mapped[str] = mapped_column(String(10))  # immediate | daily | weekly
    at: Mapped[str] = mapped_column(String(5))  # local HH:MM for daily and weekly
    weekday: Mapped[int] = mapped_column(Integer)  # 0 = Monday, for weekly
    tz: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    # The schedule slot already handled (sent, or found empty): a daily digest is due when
    # the latest 07:00 is later than this.
    last_run_at: Mapped[datetime | None]
    last_sent_at: Mapped[datetime | None]

    subscriber: Mapped[Subscriber] = relationship(back_populates="subscriptions")


class DigestDelivery(Base):
    """The send ledger: has this item gone (or possibly gone) to this subscriber?"""

    __tablename__ = "digest_ledger"
    __table_args__ = (
        UniqueConstraint("subscriber_id", "item_id", name="uq_ledger_subscriber_item"),
        Index("ix_ledger_state", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE")
    )
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    topic: Mapped[str] = mapped_column(String(200))
    digest_id: Mapped[str] = mapped_column(String(32), index=True)
    # sending | sent | failed | unknown ("sending" found after a crash: possibly sent)
    state: Mapped[str] = mapped_column(String(10))
    owner: Mapped[str] = mapped_column(String(200))  # host:pid:start of the sending process
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime]


class NotifySecret(Base):
    """The key that signs unsubscribe tokens when $STORYWATCH_SECRET is not set."""

    __tablename__ = "notify_secrets"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
