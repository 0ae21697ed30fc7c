"""One database seam: engines for SQLite and PostgreSQL, transactions, error translation.

Only this module knows driver details. SQLite runs in WAL mode with a busy timeout, and every
writing transaction starts with ``BEGIN IMMEDIATE`` so that `triage serve` and separate
`triage worker` processes queue for the write lock instead of failing on a lock upgrade.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, closing
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from triage.errors import ConfigError, Conflict, StoreError

SQLITE_BUSY_TIMEOUT_MS = 30_000
READ_ONLY_OPTION = "triage_read_only"


def driver_url(url: str) -> str:
    """The SQLAlchemy URL with its async driver for a store URL from the settings."""
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        if not path or path == ":memory:" or "mode=memory" in path:
            raise ConfigError("store.url: use memory:// for a store in memory, not SQLite")
        return "sqlite+aiosqlite:///" + path
    for scheme in ("postgresql://", "postgres://", "postgresql+asyncpg://"):
        if url.startswith(scheme):
            return "postgresql+asyncpg://" + url.removeprefix(scheme)
    raise ConfigError(f"store.url: unsupported scheme in {url!r}")


def _sqlite_path(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///").split("?", 1)[0])


def sqlite_file(url: str) -> Path | None:
    """The database file of a `sqlite:///PATH` store URL, made absolute; None for others."""
    if not url.startswith("sqlite:///"):
        return None
    return _sqlite_path(url).absolute()


def create_engine(url: str) -> AsyncEngine:
    """An engine for `url` (`sqlite:///PATH` or `postgresql://...`)."""
    engine = create_async_engine(driver_url(url), pool_pre_ping=not url.startswith("sqlite"))
    if engine.dialect.name == "sqlite":
        path = _sqlite_path(url)
        path.parent.mkdir(parents=True, exist_ok=True)
        _ensure_wal(path)
        _configure_sqlite(engine)
    return engine


def _ensure_wal(path: Path) -> None:
    """Put the database file in WAL mode (it stays so) before any engine connects.

    Switching a new file to WAL takes an exclusive lock for which SQLite does not wait on its
    busy timeout: two processes opening a new database at once would see "database is
    locked". So the switch is retried, for as long as the busy timeout.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            with closing(sqlite3.connect(path, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)) as db:
                db.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise StoreError(f"store failure: {exc}") from exc
            time.sleep(0.02)


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take BEGIN out of the driver's hands: the "begin" hook below emits our own.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        read_only = connection.get_execution_options().get(READ_ONLY_OPTION, False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def _describe(exc: BaseException) -> str:
    original = getattr(exc, "orig", None)
    return str(original if original is not None else exc).splitlines()[0][:300]


@asynccontextmanager
async def snapshot(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A read-only transaction in which every query sees the database as of one moment.

    Writers are not blocked: SQLite in WAL mode keeps the reader's snapshot from its first
    read; PostgreSQL gives it with REPEATABLE READ. Errors leave as `StoreError`.
    """
    try:
        async with engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn = await conn.execution_options(isolation_level="REPEATABLE READ")
            else:
                conn = await conn.execution_options(**{READ_ONLY_OPTION: True})
            async with conn.begin():
                if conn.dialect.name == "postgresql":
                    await conn.exec_driver_sql("SET TRANSACTION READ ONLY")
                yield conn
    except (SQLAlchemyError, OSError) as exc:
        raise StoreError(f"store failure: {_describe(exc)}") from exc


@asynccontextmanager
async def transaction(
    engine: AsyncEngine, *, read_only: bool = False
) -> AsyncIterator[AsyncConnection]:
    """A connection inside one transaction, committed when the block ends without error.

    Driver errors leave as `StoreError`, constraint violations as `Conflict`.
    """
    try:
        async with engine.connect() as conn:
            if read_only:
                conn = await conn.execution_options(**{READ_ONLY_OPTION: True})
            async with conn.begin():
                yield conn
    except IntegrityError as exc:
        raise Conflict(f"conflicting write: {_describe(exc)}") from exc
    except (SQLAlchemyError, OSError) as exc:
        raise StoreError(f"store failure: {_describe(exc)}") from exc
