"""Store: SQLAlchemy 2 models, Alembic migrations and the repository that spiders and CLI use.

SQLite (WAL) is the embedded default; PostgreSQL runs through the same code.
`Storage` and `open_storage` are imported on first use: the CLI catches StorageError
on every command, and `storywatch --help` must not pay for SQLAlchemy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from storywatch.storage.errors import StorageError

if TYPE_CHECKING:
    from storywatch.storage.db import Storage, open_storage

__all__ = ["Storage", "StorageError", "open_storage"]


def __getattr__(name: str) -> Any:
    if name in ("Storage", "open_storage"):
        from storywatch.storage import db

        return getattr(db, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
