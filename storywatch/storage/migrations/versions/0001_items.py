"""items, their URL forms, and per-topic judgements

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storywatch.storage.types import UTCDateTime

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "items",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("canonical_url", sa.String(2000), nullable=False),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("title", sa.Text()),
        sa.Column("authors", sa.JSON(), nullable=False),
        sa.Column("published_at", UTCDateTime()),
        sa.Column("fetched_at", UTCDateTime(), nullable=False),
        sa.Column("language", sa.String(8)),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("discovered_via", sa.String(20), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("word_count", sa.Integer(), nullable=False),
        sa.Column("extractor", sa.String(40), nullable=False),
        sa.UniqueConstraint("canonical_url", name="uq_items_canonical_url"),
    )
    op.create_index("ix_items_published_at", "items", ["published_at"])
    op.create_index("ix_items_fetched_at", "items", ["fetched_at"])
    op.create_index("ix_items_source", "items", ["source"])
    op.create_index("ix_items_content_hash", "items", ["content_hash"])
    op.create_table(
        "item_urls",
        sa.Column("url", sa.String(2000), primary_key=True),
        sa.Column(
            "item_id", sa.Integer(), sa.ForeignKey("items.id", ondelete="CASCADE"), nullable=False
        ),
    )
    op.create_index("ix_item_urls_item_id", "item_urls", ["item_id"])
    op.create_table(
        "judgements",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "item_id", sa.Integer(), sa.ForeignKey("items.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("duplicate_of", sa.String(2000)),
        sa.Column("cluster_id", sa.String(64)),
        sa.Column("relevance", sa.Float()),
        sa.Column("novelty", sa.Float()),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("decided_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("item_id", "topic", name="uq_judgement_item_topic"),
    )
    op.create_index("ix_judgements_topic_status", "judgements", ["topic", "status"])
    op.create_index("ix_judgements_cluster_id", "judgements", ["cluster_id"])


def downgrade() -> None:
    op.drop_table("judgements")
    op.drop_table("item_urls")
    op.drop_table("items")
