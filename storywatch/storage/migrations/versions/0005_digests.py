"""subscribers, subscriptions, digest send ledger, notify secret

Revision ID: 0005
Revises: 0001
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storywatch.storage.types import UTCDateTime

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "subscribers",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("email", name="uq_subscribers_email"),
    )
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "subscriber_id", sa.Integer(),
            sa.ForeignKey("subscribers.id", ondelete="CASCADE"), nullable=False,
        ),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("every", sa.String(10), nullable=False),
        sa.Column("at", sa.String(5), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("tz", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_run_at", UTCDateTime()),
        sa.Column("last_sent_at", UTCDateTime()),
        sa.UniqueConstraint("subscriber_id", "topic", name="uq_subscription_subscriber_topic"),
    )
    op.create_index("ix_subscriptions_subscriber_id", "subscriptions", ["subscriber_id"])
    op.create_index("ix_subscriptions_topic", "subscriptions", ["topic"])
    op.create_table(
        "digest_ledger",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "subscriber_id", sa.Integer(),
            sa.ForeignKey("subscribers.id", ondelete="CASCADE"), nullable=False,
        ),
        sa.Column(
            "item_id", sa.Integer(), sa.ForeignKey("items.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("digest_id", sa.String(32), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text()),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("subscriber_id", "item_id", name="uq_ledger_subscriber_item"),
    )
    op.create_index("ix_ledger_state", "digest_ledger", ["state"])
    op.create_index("ix_digest_ledger_digest_id", "digest_ledger", ["digest_id"])
    op.create_table(
        "notify_secrets",
        sa.Column("name", sa.String(50), primary_key=True),
        sa.Column("value", sa.String(200), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("notify_secrets")
    op.drop_table("digest_ledger")
    op.drop_table("subscriptions")
    op.drop_table("subscribers")
