"""Opening the database: engine settings per backend, and migrations on first use."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from filelock import FileLock
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# Any constant works; it only has to be the same in every storywatch process.
_PG_MIGRATION_LOCK = 0x5709_3A7C


class StorageError(Exception):
    """The database cannot be opened or used; the message says which and why."""


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    # WAL: readers never block the writer, so `storywatch items` works during a crawl.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    # Two processes writing (daemon + manual crawl) wait for each other instead of failing.
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def alembic_config(engine_url: str | None = None) -> AlembicConfig:
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
        """Bring the schema to the newest revision; safe when several processes start at once."""
        script = ScriptDirectory.from_config(alembic_config())
        heads = set(script.get_heads())
        with self.engine.connect() as conn:
            if set(MigrationContext.configure(conn).get_current_heads()) == heads:
                return
        if self.engine.dialect.name == "sqlite":
            database = self.engine.url.database
            lock_path = f"{database}.migrate.lock" if database and database != ":memory:" else None
            if lock_path:
                with FileLock(lock_path, timeout=120):
                    self._upgrade()
                return
            self._upgrade()
            return
        with self.engine.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
            self._upgrade(conn)

    def _upgrade(self, conn=None) -> None:  # type: ignore[no-untyped-def]
        cfg = alembic_config()
        if conn is not None:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "heads")
            return
        with self.engine.begin() as own:
            # Python's sqlite3 opens a transaction only before INSERT/UPDATE/DELETE, so each
            # CREATE TABLE committed by itself and a kill -9 mid-migration left a half-made
            # schema that no later start could migrate. One explicit transaction makes the
            # migration all or nothing (the driver's commit() ends it).
            own.exec_driver_sql("BEGIN IMMEDIATE")
            cfg.attributes["connection"] = own
            command.upgrade(cfg, "heads")

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
