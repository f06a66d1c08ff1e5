"""human labels, judgement confidence, per-topic judging locks, seed publication dates

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storywatch.storage.types import UTCDateTime

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("judgements") as batch:
        batch.add_column(sa.Column("confidence", sa.Float(), nullable=True))
    with op.batch_alter_table("seed_pages") as batch:
        batch.add_column(sa.Column("published_at", UTCDateTime(), nullable=True))
    op.create_table(
        "labels",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("item_id", sa.Integer(), sa.ForeignKey("items.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("labelled_at", UTCDateTime(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.UniqueConstraint("item_id", "topic", name="uq_label_item_topic"),
    )
    op.create_index("ix_labels_topic", "labels", ["topic"])
    op.create_table(
        "topic_locks",
        sa.Column("topic", sa.String(200), primary_key=True),
        sa.Column("writes", sa.Integer(), nullable=False, server_default="0"),
    )


def downgrade() -> None:
    op.drop_table("topic_locks")
    op.drop_index("ix_labels_topic", "labels")
    op.drop_table("labels")
    with op.batch_alter_table("seed_pages") as batch:
        batch.drop_column("published_at")
    with op.batch_alter_table("judgements") as batch:
        batch.drop_column("confidence")
