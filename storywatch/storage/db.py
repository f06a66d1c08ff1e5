"""Opening the database: engine settings per backend, and migrations on first use."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from filelock import FileLock
from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from storywatch.storage.errors import StorageError

if TYPE_CHECKING:  # Alembic is imported only when a schema is really upgraded (it costs ~0.2 s)
    from alembic.config import Config as AlembicConfig

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# Any constant works; it only has to be the same in every storywatch process.
_PG_MIGRATION_LOCK = 0x5709_3A7C




def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    # Two processes writing (daemon + manual crawl) wait for each other instead of failing;
    # first, so that the journal-mode switch below waits too.
    cursor.execute("PRAGMA busy_timeout=30000")
    # WAL: readers never block the writer, so `storywatch items` works during a crawl.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _atomic_sqlite_engine(engine: Engine) -> Engine:
    """An engine whose transactions really contain DDL, for migrations.

    Python's sqlite3 module opens a transaction only before INSERT/UPDATE/DELETE, so each
    CREATE TABLE of a migration committed on its own: a crawl killed during its first
    migration left tables without their alembic_version row, and every later start
    failed with "table items already exists". Here the driver is left in autocommit and
    the transaction is begun explicitly (SQLAlchemy's documented pysqlite recipe), so a
    migration is all or nothing.
    """
    atomic = create_engine(engine.url, connect_args={"timeout": 30}, poolclass=NullPool)
    event.listen(atomic, "connect", _sqlite_pragmas)
    event.listen(atomic, "connect", _driver_autocommit)
    event.listen(atomic, "begin", _begin_immediate)
    return atomic


def _driver_autocommit(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    dbapi_connection.isolation_level = None


def _begin_immediate(connection: Connection) -> None:
    # IMMEDIATE: take the write lock now, so two first starts queue instead of deadlocking.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def alembic_config(engine_url: str | None = None) -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if engine_url:
        cfg.set_main_option("sqlalchemy.url", engine_url.replace("%", "%%"))
    return cfg


class Storage:
    """An engine and its session factory; one per process, passed to whoever writes."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: committed on success, rolled back on any error."""
        with self._sessions.begin() as session:
            yield session

    def migrate(self) -> None:
        """Bring the schema to the newest revision; safe when several processes start at once.

        An up-to-date database (every command but the first after an upgrade) is checked
        with one query against the heads read from the migration files, without Alembic.
        On SQLite the whole of it, the first connection included, runs under a file lock:
        a process that connected while another held the first migration's transaction
        could fail its own connection set-up with "database is locked" (two crawls started
        together on a new database, tests/test_concurrency.py).
        """
        if self.engine.dialect.name == "sqlite":
            database = self.engine.url.database
            if database and database != ":memory:":
                with FileLock(f"{database}.migrate.lock", timeout=120):
                    self._migrate()
                return
        self._migrate()

    def _migrate(self) -> None:
        heads = migration_heads()
        with self.engine.connect() as conn:
            if heads is not None and _current_heads(conn) == heads:
                return
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory

        script = ScriptDirectory.from_config(alembic_config())
        heads = set(script.get_heads())
        with self.engine.connect() as conn:
            if set(MigrationContext.configure(conn).get_current_heads()) == heads:
                return
        if self.engine.dialect.name == "sqlite":
            self._upgrade()
            return
        with self.engine.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
            self._upgrade(conn)

    def _upgrade(self, conn=None) -> None:  # type: ignore[no-untyped-def]
        from alembic import command

        cfg = alembic_config()
        if conn is not None:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "heads")
            return
        engine = self.engine
        if engine.dialect.name == "sqlite":
            engine = _atomic_sqlite_engine(engine)
        try:
            with engine.begin() as own:
                cfg.attributes["connection"] = own
                command.upgrade(cfg, "heads")
        finally:
            if engine is not self.engine:
                engine.dispose()

    def dispose(self) -> None:
        self.engine.dispose()


def shown_url(url: str) -> str:
    """The URL as it may appear in a message or log: never with its password.

    Works on strings SQLAlchemy cannot parse too, which are exactly the ones that end up in
    error messages: then everything after the scheme is hidden when it may hold a password.
    """
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return f"{url.split(':', 1)[0]}:***" if "@" in url else url


def _redacted(text: str, url: str) -> str:
    """An error message with the URL's password taken out wherever it appears."""
    try:
        secret = make_url(url).password or ""
    except (ArgumentError, ValueError):
        secret = url.split(":", 1)[-1].rpartition("@")[0] if "@" in url else ""
    text = text.replace(url, shown_url(url))
    return text.replace(str(secret), "***") if secret else text


_REVISION = re.compile(r"^revision(?:\s*:[^=]*)?=\s*['\"]([^'\"]+)['\"]\s*$", re.M)
_DOWN_REVISION = re.compile(
    r"^down_revision(?:\s*:[^=]*)?=\s*(?:None|['\"]([^'\"]+)['\"])\s*$", re.M)


def migration_heads() -> set[str] | None:
    """The newest revision(s), read from the migration files' text without importing Alembic.

    None when a file is not in the plain one-parent form (a merge, a tuple): then Alembic
    decides. tests/test_storage.py checks this agrees with Alembic's own heads.
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        revision, down = _REVISION.search(source), _DOWN_REVISION.search(source)
        if revision is None or down is None:
            return None
        revisions.add(revision[1])
        if down[1]:
            parents.add(down[1])
    return (revisions - parents) or None


def _current_heads(conn: Connection) -> set[str]:
    if not inspect(conn).has_table("alembic_version"):
        return set()
    return set(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())


def create_storage_engine(url: str) -> Engine:
    shown = shown_url(url)
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StorageError(f"storage.url {shown!r} is not a database URL: "
                           f"{_redacted(str(exc), url)}") from None
    except ValueError:  # SQLAlchemy's int() of the port, with no word about which field
        raise StorageError(f"storage.url {shown!r}: the port is not a number") from None
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            folder = Path(database).expanduser().parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StorageError(
                    f"cannot open the database {shown}: cannot create {folder}: {exc.strerror}"
                ) from None
        engine = create_engine(parsed, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    try:
        return create_engine(parsed, pool_pre_ping=True)
    except ArgumentError as exc:  # NoSuchModuleError: a driver name SQLAlchemy does not know
        raise StorageError(f"storage.url {shown!r}: {_redacted(str(exc), url)}") from None
    except ModuleNotFoundError as exc:
        raise StorageError(
            f"storage.url uses {parsed.drivername} but its driver is not installed ({exc.name}); "
            "install storywatch with the 'postgres' extra: pip install 'storywatch[postgres]'"
        ) from None


def open_storage(url: str, *, migrate: bool = True) -> Storage:
    """Open (and by default migrate) the database, or raise StorageError saying why not."""
    storage = Storage(create_storage_engine(url))
    try:
        if migrate:
            storage.migrate()
        else:
            with storage.engine.connect():
                pass
    except OperationalError as exc:
        storage.dispose()
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise StorageError(f"cannot open the database {storage.url}: "
                           f"{_redacted(reason, url)}") from None
    except SQLAlchemyError as exc:
        storage.dispose()
        raise StorageError(f"database {storage.url}: {_redacted(str(exc), url)}") from None
    return storage
