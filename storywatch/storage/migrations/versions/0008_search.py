"""full-text search over item titles and text: SQLite FTS5 table, PostgreSQL tsvector

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30

SQLite: an external-content FTS5 table over items(title, text), kept in step by
triggers, rebuilt from the stored items here. PostgreSQL: a stored generated tsvector
column (filled for existing rows by the ALTER itself) with a GIN index, and an index in
the web list's order. The 'simple' configuration: items come in many languages, and a
stemmer for one would mangle others.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SQLITE_UP = [
    "CREATE VIRTUAL TABLE items_fts USING fts5(title, text, content='items', "
    "content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER items_fts_insert AFTER INSERT ON items BEGIN "
    "INSERT INTO items_fts(rowid, title, text) VALUES (new.id, new.title, new.text); END",
    "CREATE TRIGGER items_fts_delete AFTER DELETE ON items BEGIN "
    "INSERT INTO items_fts(items_fts, rowid, title, text) "
    "VALUES ('delete', old.id, old.title, old.text); END",
    "CREATE TRIGGER items_fts_update AFTER UPDATE OF title, text ON items BEGIN "
    "INSERT INTO items_fts(items_fts, rowid, title, text) "
    "VALUES ('delete', old.id, old.title, old.text); "
    "INSERT INTO items_fts(rowid, title, text) VALUES (new.id, new.title, new.text); END",
    "INSERT INTO items_fts(items_fts) VALUES ('rebuild')",
]
_SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS items_fts_update",
    "DROP TRIGGER IF EXISTS items_fts_delete",
    "DROP TRIGGER IF EXISTS items_fts_insert",
    "DROP TABLE IF EXISTS items_fts",
]
_POSTGRES_UP = [
    "ALTER TABLE items ADD COLUMN search tsvector GENERATED ALWAYS AS "
    "(to_tsvector('simple'::regconfig, coalesce(title, '') || ' ' || text)) STORED",
    "CREATE INDEX ix_items_search ON items USING gin (search)",
    # The web list's order (newest first, undated last): a backward scan of the ascending
    # published_at index gives NULLs first, so PostgreSQL would sort instead of walking.
    "CREATE INDEX ix_items_listing ON items (published_at DESC NULLS LAST, id DESC)",
]
_POSTGRES_DOWN = ["DROP INDEX IF EXISTS ix_items_listing", "DROP INDEX IF EXISTS ix_items_search",
                  "ALTER TABLE items DROP COLUMN IF EXISTS search"]


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in _POSTGRES_UP if postgres else _SQLITE_UP:
        op.execute(statement)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in _POSTGRES_DOWN if postgres else _SQLITE_DOWN:
        op.execute(statement)
