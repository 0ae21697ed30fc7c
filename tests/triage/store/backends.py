"""Stores to run the contract tests against: memory, SQLite in a temp file, real PostgreSQL.

PostgreSQL: each test session creates and migrates its own database beside the `test` database
(so parallel runs never collide) and drops it at the end; each test starts from empty tables.
SQLite: migrated once per session into a template file that each test copies.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from triage.store import JobPolicy, Store, open_store
from triage.store.engine import driver_url
from triage.store.tables import metadata

POSTGRES_ADMIN_URL = os.environ.get(
    "TRIAGE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
BACKENDS = ("memory", "sqlite", "postgresql")
CONTRACT_POLICY = JobPolicy(
    max_attempts=5, backoff_base_seconds=2.0, backoff_max_seconds=300.0, lease_seconds=30.0
)
"""The job policy of the contract tests' stores (the default settings'); a test that needs
another says so with `with_job_policy`."""
LEASE = CONTRACT_POLICY.lease_seconds


def with_job_policy(name: str, **changes: Any) -> pytest.MarkDecorator:
    """Run a test on stores whose job policy is the contract's with `changes` (the parameter
    overrides the `job_policy` fixture the `store` fixture opens them with)."""
    return pytest.mark.parametrize("job_policy", [replace(CONTRACT_POLICY, **changes)], ids=[name])


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


async def execute_autocommit(url: str, *statements: str) -> None:
    """Run `statements` outside any transaction (CREATE and DROP DATABASE need it)."""
    engine = create_async_engine(driver_url(url), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            for statement in statements:
                await connection.execute(text(statement))
    finally:
        await engine.dispose()


def _in_own_loop(make: Callable[[], Coroutine[Any, Any, None]]) -> None:
    # Own thread, own event loop: the fixture may be set up while a test's loop is running.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(lambda: asyncio.run(make())).result()


async def _migrate(url: str) -> None:
    store = open_store(url)
    try:
        await store.migrate()
    finally:
        await store.close()


@contextmanager
def postgres_database(*, migrated: bool = True) -> Iterator[str]:
    """The URL of a fresh PostgreSQL database (migrated unless told), dropped afterwards."""
    name = f"triage_test_{uuid.uuid4().hex[:12]}"
    _in_own_loop(lambda: execute_autocommit(POSTGRES_ADMIN_URL, f'CREATE DATABASE "{name}"'))
    url = _with_database(POSTGRES_ADMIN_URL, name)
    try:
        if migrated:
            _in_own_loop(lambda: _migrate(url))
        yield url
    finally:
        _in_own_loop(
            lambda: execute_autocommit(
                POSTGRES_ADMIN_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
            )
        )


def migrated_sqlite_file(folder: Path) -> Path:
    """A migrated, empty SQLite file that tests copy instead of migrating each time."""
    path = folder / "template.sqlite3"
    _in_own_loop(lambda: _migrate(f"sqlite:///{path}"))
    return path


async def empty_postgres_tables(url: str) -> None:
    # DELETE beats TRUNCATE on tables this small; children go before their parents.
    counters = {"hashlist_state", "sequences"}
    tables = [t.name for t in reversed(metadata.sorted_tables) if t.name not in counters]
    await execute_autocommit(
        url,
        *(f"DELETE FROM {name}" for name in tables),
        "UPDATE hashlist_state SET version = 0",
        "UPDATE sequences SET value = 0",
    )


def store_url(
    backend: str, tmp_path: Path, *, postgres_url: str | None, sqlite_template: Path | None
) -> str:
    """A URL of an empty, migrated store of the given backend, private to one test."""
    if backend == "memory":
        return "memory://"
    if backend == "sqlite":
        if sqlite_template is None:
            raise ValueError("the sqlite backend needs a template file")
        path = tmp_path / "triage.sqlite3"
        shutil.copyfile(sqlite_template, path)
        return f"sqlite:///{path}"
    if postgres_url is None:
        raise ValueError("the postgresql backend needs a database URL")
    return postgres_url


async def open_migrated(url: str, clock: FakeClock, policy: JobPolicy) -> Store:
    """Open a store on a URL from `store_url`, emptied for one test, following `policy`."""
    store = open_store(url, policy=policy, clock=clock)
    if url.startswith("postgresql://"):
        await empty_postgres_tables(url)
    return store
