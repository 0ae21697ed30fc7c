"""Stores to run the contract tests against: memory, SQLite in a temp file, real PostgreSQL.

PostgreSQL: each test session creates its own database from the `test` database (so parallel
runs never collide) and drops it at the end; each test starts from empty tables.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from triage.store import Store, open_store
from triage.store.engine import driver_url
from triage.store.tables import metadata

POSTGRES_ADMIN_URL = os.environ.get(
    "TRIAGE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
BACKENDS = ("memory", "sqlite", "postgresql")


class FakeClock:
    """A clock that moves only when told, so leases and backoff are tested without sleeping."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def _with_database(url: str, database: str) -> str:
    return url.rsplit("/", 1)[0] + "/" + database


async def _execute(url: str, *statements: str) -> None:
    engine = create_async_engine(driver_url(url), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            for statement in statements:
                await connection.execute(text(statement))
    finally:
        await engine.dispose()


def _run_admin(statement: str) -> None:
    # Own thread, own event loop: the fixture may be set up while a test's loop is running.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(lambda: asyncio.run(_execute(POSTGRES_ADMIN_URL, statement))).result()


@contextmanager
def postgres_database() -> Iterator[str]:
    """The URL of a fresh, empty PostgreSQL database, dropped afterwards."""
    name = f"triage_test_{uuid.uuid4().hex[:12]}"
    _run_admin(f'CREATE DATABASE "{name}"')
    try:
        yield _with_database(POSTGRES_ADMIN_URL, name)
    finally:
        _run_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def empty_postgres_tables(url: str) -> None:
    # DELETE beats TRUNCATE on tables this small; children go before their parents.
    counters = {"hashlist_state", "sequences"}
    tables = [t.name for t in reversed(metadata.sorted_tables) if t.name not in counters]
    await _execute(
        url,
        *(f"DELETE FROM {name}" for name in tables),
        "UPDATE hashlist_state SET version = 0",
        "UPDATE sequences SET value = 0",
    )


def store_url(backend: str, tmp_path: Path, postgres_url: str | None) -> str:
    if backend == "memory":
        return "memory://"
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'triage.sqlite3'}"
    if postgres_url is None:
        raise ValueError("the postgresql backend needs a database URL")
    return postgres_url


async def open_migrated(url: str, clock: FakeClock) -> Store:
    store = open_store(url, clock=clock)
    await store.migrate()
    if url.startswith("postgresql://"):
        await empty_postgres_tables(url)
    return store
