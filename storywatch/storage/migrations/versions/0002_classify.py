"""classifier tables: near-copy band keys, fetched seed pages

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storywatch.storage.types import UTCDateTime

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "near_copy_bands",
        sa.Column("band_key", sa.BigInteger(), nullable=False, autoincrement=False),
        sa.Column(
            "item_id", sa.Integer(), sa.ForeignKey("items.id", ondelete="CASCADE"), nullable=False
        ),
        sa.PrimaryKeyConstraint("band_key", "item_id", name="pk_near_copy_bands"),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_near_copy_bands_item_id", "near_copy_bands", ["item_id"])
    op.create_table(
        "seed_pages",
        sa.Column("url", sa.String(2000), primary_key=True),
        sa.Column("title", sa.Text()),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("language", sa.String(8)),
        sa.Column("fetched_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("seed_pages")
    op.drop_index("ix_near_copy_bands_item_id", table_name="near_copy_bands")
    op.drop_table("near_copy_bands")
