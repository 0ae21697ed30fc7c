"""Where a store's schema stands against this version's migrations, and bringing it there.

`triage serve` and `triage worker` only start on a store at the newest revision; `triage
migrate` is the one step that creates or upgrades a schema. Looking never creates anything:
a SQLite file that does not exist is reported missing, not made.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from functools import cache

from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from triage.errors import StoreError
from triage.store import engine as db
from triage.store.sql import MIGRATIONS_DIR, SqlStore

VERSION_TABLE = "alembic_version"


class SchemaStatus(enum.StrEnum):
    MISSING = "missing"
    """No store yet: the SQLite file does not exist, or the database holds no tables."""
    BEHIND = "behind"
    """An older revision of this version's history: `triage migrate` upgrades it."""
    CURRENT = "current"
    """At the newest revision this version knows."""
    UNKNOWN = "unknown"
    """Tables without a revision, or a revision this version does not know (a newer one)."""


@dataclass(frozen=True)
class SchemaState:
    status: SchemaStatus
    revision: str | None
    head: str
    location: str
    """The store as a person recognises it: the absolute SQLite path or the database URL."""


@cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory(str(MIGRATIONS_DIR))


def head_revision() -> str:
    """The newest revision of the migrations shipped with this version."""
    head = _scripts().get_current_head()
    if head is None:
        raise StoreError("no migrations found")
    return head


def is_known_revision(revision: str) -> bool:
    try:
        return _scripts().get_revision(revision) is not None
    except CommandError:
        return False


def describe_location(url: str) -> str:
    """The store's place without credentials: a SQLite path or the database URL sans password."""
    path = db.sqlite_file(url)
    if path is not None:
        return str(path)
    if url.startswith("memory://"):
        return "memory://"
    scheme, _, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}{at}{host}"


def _revision_and_tables(conn: Connection) -> tuple[str | None, list[str]]:
    names = inspect(conn).get_table_names()
    if VERSION_TABLE not in names:
        return None, names
    row = conn.exec_driver_sql(f"SELECT version_num FROM {VERSION_TABLE}").first()
    return (str(row[0]) if row is not None else None), names


async def _read_state(engine: AsyncEngine) -> tuple[str | None, list[str]]:
    async with db.transaction(engine, read_only=True) as conn:
        return await conn.run_sync(_revision_and_tables)


async def inspect_schema(url: str) -> SchemaState:
    """The schema state of the store at `url`, creating nothing."""
    head = head_revision()
    location = describe_location(url)
    if url.startswith("memory://"):
        # Nothing persists: the in-process store is made at the newest revision.
        return SchemaState(SchemaStatus.CURRENT, head, head, location)
    path = db.sqlite_file(url)
    if path is not None and not path.exists():
        return SchemaState(SchemaStatus.MISSING, None, head, location)
    engine = db.create_engine(url)
    try:
        revision, tables = await _read_state(engine)
    finally:
        await engine.dispose()
    if revision is None:
        status = SchemaStatus.UNKNOWN if set(tables) - {VERSION_TABLE} else SchemaStatus.MISSING
    elif revision == head:
        status = SchemaStatus.CURRENT
    elif is_known_revision(revision):
        status = SchemaStatus.BEHIND
    else:
        status = SchemaStatus.UNKNOWN
    return SchemaState(status, revision, head, location)


async def migrate(url: str, revision: str = "head") -> None:
    """Create or upgrade the schema of the store at `url` to `revision`."""
    store = SqlStore(url)
    try:
        await store.migrate(revision)
    finally:
        await store.close()
