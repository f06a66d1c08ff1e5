"""Store: SQLAlchemy 2 models, Alembic migrations and the repository that spiders and CLI use.

SQLite (WAL) is the embedded default; PostgreSQL runs through the same code.
"""

from storywatch.storage.db import Storage, StorageError, open_storage

__all__ = ["Storage", "StorageError", "open_storage"]
