"""Backups of a SQL store as a portable archive, taken online, and their restore.

An archive is a gzipped tar: `manifest.json` (format version, schema revision, and per table
its columns and row count), then `tables/<name>.jsonl` with one JSON object per row. Every
table the migrations made is dumped, found by reflecting the database rather than listed here,
so a table added by a later migration is backed up without a change to this module; the
Alembic bookkeeping table is left out and replaced by the revision in the manifest.

Why not the native tools: an archive of JSON lines restores into either backend (a SQLite
store can move to PostgreSQL), needs no `pg_dump` matching the server's version, and records
the schema revision, so a restore can make the schema of that revision, load the rows, then
migrate to the newest. Rows are read inside one snapshot (`engine.snapshot`), so the backup is
consistent across tables while the service keeps writing.
"""

from __future__ import annotations

import base64
import io
import json
import os
import tarfile
import tempfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Column, MetaData, Table, func, insert, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.types import JSON, DateTime, LargeBinary

from triage.errors import ConfigError, InvalidInput, StoreError
from triage.store import engine as db
from triage.store.schema import (
    VERSION_TABLE,
    SchemaStatus,
    describe_location,
    head_revision,
    inspect_schema,
    is_known_revision,
    migrate,
)

FORMAT = "triage-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
BATCH_ROWS = 500

Progress = Callable[[int, int], None]
"""Called as rows are copied: (rows just copied, rows in all)."""


@dataclass(frozen=True)
class TableDump:
    name: str
    rows: int
    columns: tuple[tuple[str, str], ...]
    """(name, kind) in table order; kind is datetime, bytes, json or value."""

    @property
    def member(self) -> str:
        return f"tables/{self.name}.jsonl"


@dataclass(frozen=True)
class Manifest:
    schema_revision: str
    created_at: datetime
    source: str
    """The dialect backed up (sqlite, postgresql): for the reader; restores ignore it."""
    tables: tuple[TableDump, ...]

    @property
    def rows(self) -> int:
        return sum(table.rows for table in self.tables)

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "schema_revision": self.schema_revision,
                "created_at": self.created_at.isoformat(),
                "source": self.source,
                "tables": [
                    {"name": t.name, "rows": t.rows, "columns": dict(t.columns)}
                    for t in self.tables
                ],
            },
            indent=2,
        )

    @classmethod
    def from_json(cls, text_: str, where: Path) -> Manifest:
        try:
            data = json.loads(text_)
            if data.get("format") != FORMAT:
                raise InvalidInput(f"{where}: not a triage backup")
            if data.get("format_version") != FORMAT_VERSION:
                raise InvalidInput(
                    f"{where}: backup format {data.get('format_version')}, this version reads "
                    f"{FORMAT_VERSION}"
                )
            tables = tuple(
                TableDump(
                    str(t["name"]),
                    int(t["rows"]),
                    tuple((str(name), str(kind)) for name, kind in t["columns"].items()),
                )
                for t in data["tables"]
            )
            return cls(
                str(data["schema_revision"]),
                datetime.fromisoformat(data["created_at"]),
                str(data["source"]),
                tables,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput(f"{where}: damaged backup manifest ({exc})") from exc


# --- values: database <-> JSON ---------------------------------------------------------------


def _kind(column: Column[Any]) -> str:
    if isinstance(column.type, DateTime):
        return "datetime"
    if isinstance(column.type, LargeBinary):
        return "bytes"
    if isinstance(column.type, JSON):
        return "json"
    return "value"


def _dumped(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == "datetime":
        # Naive values are stored as UTC (SQLite keeps no offset).
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).isoformat()
    if kind == "bytes":
        return base64.b64encode(value).decode("ascii")
    return value


def _loaded(value: Any, kind: str, column: Column[Any]) -> Any:
    if value is None:
        return None
    if kind == "datetime":
        moment = datetime.fromisoformat(value).astimezone(UTC)
        timezone = getattr(column.type, "timezone", False)
        return moment if timezone else moment.replace(tzinfo=None)
    if kind == "bytes":
        return base64.b64decode(value)
    return value


# --- reading the database ----------------------------------------------------------------------


def _reflect(conn: Connection) -> list[Table]:
    found = MetaData()
    found.reflect(conn)
    return [table for table in found.sorted_tables if table.name != VERSION_TABLE]


def _current_revision(conn: Connection) -> str | None:
    row = conn.exec_driver_sql(f"SELECT version_num FROM {VERSION_TABLE}").first()
    return str(row[0]) if row is not None else None


def _ordered(table: Table) -> Any:
    key = list(table.primary_key.columns) or list(table.columns)
    return select(table).order_by(*key)


async def _dump_table(
    conn: AsyncConnection, table: Table, out: IO[str], total: int, progress: Progress | None
) -> int:
    kinds = [(column.name, _kind(column)) for column in table.columns]
    count = 0
    result = await conn.stream(_ordered(table).execution_options(yield_per=BATCH_ROWS))
    async for partition in result.partitions(BATCH_ROWS):
        for row in partition:
            mapping = row._mapping
            record = {name: _dumped(mapping[name], kind) for name, kind in kinds}
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
        count += len(partition)
        if progress is not None:
            progress(len(partition), total)
    return count


async def write_backup(url: str, out: Path, *, progress: Progress | None = None) -> Manifest:
    """Write a backup of the store at `url` to `out` (replaced in one step when complete).

    The store may be in use; the archive holds one consistent moment of it.
    """
    if url.startswith("memory://"):
        raise ConfigError("store.url is memory://: it keeps nothing to back up")
    state = await inspect_schema(url)
    if state.status is SchemaStatus.MISSING:
        raise ConfigError(f"no store at {state.location} to back up")
    out = out.absolute()
    out.parent.mkdir(parents=True, exist_ok=True)
    engine = db.create_engine(url)
    try:
        with tempfile.TemporaryDirectory(dir=out.parent, prefix=".backup-") as work:
            folder = Path(work)
            async with db.snapshot(engine) as conn:
                revision = await conn.run_sync(_current_revision)
                if revision is None:
                    raise StoreError(f"{state.location} has no schema revision to back up")
                tables = await conn.run_sync(_reflect)
                counts = [await conn.scalar(select(func.count()).select_from(t)) for t in tables]
                total = sum(int(c or 0) for c in counts)
                dumps = []
                for table in tables:
                    with (folder / f"{table.name}.jsonl").open("w", encoding="utf-8") as file:
                        rows = await _dump_table(conn, table, file, total, progress)
                    columns = tuple((c.name, _kind(c)) for c in table.columns)
                    dumps.append(TableDump(table.name, rows, columns))
                dialect = conn.dialect.name
            manifest = Manifest(revision, datetime.now(UTC), dialect, tuple(dumps))
            _write_archive(folder, manifest, out)
        return manifest
    finally:
        await engine.dispose()


def _write_archive(folder: Path, manifest: Manifest, out: Path) -> None:
    partial = folder / "archive.tar.gz"
    with tarfile.open(partial, "w:gz", compresslevel=6) as archive:
        data = manifest.to_json().encode()
        info = tarfile.TarInfo(MANIFEST)
        info.size, info.mtime, info.mode = len(data), int(manifest.created_at.timestamp()), 0o600
        archive.addfile(info, io.BytesIO(data))
        for table in manifest.tables:
            archive.add(folder / f"{table.name}.jsonl", arcname=table.member, recursive=False)
    # Keys' digests and every verdict are in it: readable by its owner only.
    partial.chmod(0o600)
    with partial.open("rb") as file:
        os.fsync(file.fileno())
    partial.replace(out)


# --- restoring ---------------------------------------------------------------------------------


def read_manifest(archive_path: Path) -> Manifest:
    """The manifest of a backup archive; `InvalidInput` if it is not one."""
    with _open_archive(archive_path) as archive:
        return _manifest(archive, archive_path)


def _open_archive(path: Path) -> tarfile.TarFile:
    try:
        return tarfile.open(path, "r:gz")
    except (OSError, tarfile.TarError) as exc:
        raise InvalidInput(f"{path}: cannot read the backup: {exc}") from exc


DAMAGE = (OSError, EOFError, zlib.error, tarfile.TarError)
"""What reading a cut or corrupted archive raises."""


def _member(archive: tarfile.TarFile, name: str, where: Path) -> IO[bytes] | None:
    try:
        return archive.extractfile(name)
    except KeyError:
        return None
    except DAMAGE as exc:
        raise InvalidInput(f"{where}: damaged archive: {exc}") from exc


def _manifest(archive: tarfile.TarFile, where: Path) -> Manifest:
    member = _member(archive, MANIFEST, where)
    if member is None:
        raise InvalidInput(f"{where}: not a triage backup (no {MANIFEST})")
    return Manifest.from_json(member.read().decode(), where)


def _rows(archive: tarfile.TarFile, table: TableDump, where: Path) -> Iterator[dict[str, Any]]:
    member = _member(archive, table.member, where)
    if member is None:
        raise InvalidInput(f"{where}: {table.member} is missing")
    lines = enumerate(io.TextIOWrapper(member, encoding="utf-8"), 1)
    while True:
        try:
            number, line = next(lines, (0, ""))
            if not number:
                return
            record = json.loads(line)
        except DAMAGE as exc:
            raise InvalidInput(f"{where}: damaged archive, in {table.member}: {exc}") from exc
        except ValueError as exc:
            raise InvalidInput(f"{where}: {table.member} line {number}: {exc}") from exc
        if not isinstance(record, dict):
            raise InvalidInput(f"{where}: {table.member} line {number} is not a row")
        yield record


def _batches(rows: Iterable[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == BATCH_ROWS:
            yield batch
            batch = []
    if batch:
        yield batch


def _self_links(table: Table) -> list[tuple[str, str]]:
    """(column, referenced column) of the foreign keys from `table` to itself."""
    return [
        (fk.parent.name, fk.column.name) for fk in table.foreign_keys if fk.column.table is table
    ]


def _parents_first(table: Table, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows ordered so that a row referring to another row of its own table comes after it."""
    links = _self_links(table)
    placed: set[tuple[str, Any]] = set()
    ordered: list[dict[str, Any]] = []
    waiting = rows
    while waiting:
        still: list[dict[str, Any]] = []
        for row in waiting:
            ready = all(
                row.get(child) is None or (parent, row[child]) in placed for child, parent in links
            )
            if ready:
                ordered.append(row)
                placed.update((parent, row.get(parent)) for _, parent in links)
            else:
                still.append(row)
        if len(still) == len(waiting):
            ordered.extend(still)  # dangling or circular: the database will say which
            break
        waiting = still
    return ordered


_seeded: dict[str, frozenset[str]] = {}


async def _seeded_tables(revision: str) -> frozenset[str]:
    """Tables a new store of `revision` already has rows in (counters the migrations seed),
    learnt once by migrating a throwaway SQLite file."""
    if revision not in _seeded:
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite:///{Path(folder) / 'seed.sqlite3'}"
            await migrate(url, revision)
            engine = db.create_engine(url)
            try:
                _seeded[revision] = frozenset(await _tables_with_rows(engine))
            finally:
                await engine.dispose()
    return _seeded[revision]


async def _tables_with_rows(engine: AsyncEngine) -> list[str]:
    async with db.transaction(engine, read_only=True) as conn:
        tables = await conn.run_sync(_reflect)
        return [t.name for t in tables if await conn.scalar(select(func.count()).select_from(t))]


def _drop_everything(conn: Connection) -> None:
    found = MetaData()
    found.reflect(conn)
    found.drop_all(conn)


async def _reset_serials(conn: AsyncConnection, tables: Sequence[Table]) -> None:
    """Move PostgreSQL's serial counters past the restored ids, so new rows do not clash."""
    for table in tables:
        for column in table.primary_key.columns:
            sequence = await conn.scalar(
                text("SELECT pg_get_serial_sequence(:table, :column)"),
                {"table": table.name, "column": column.name},
            )
            if sequence is not None:
                await conn.execute(
                    text(
                        f'SELECT setval(:sequence, COALESCE(MAX("{column.name}"), 1), '
                        f'MAX("{column.name}") IS NOT NULL) FROM "{table.name}"'
                    ),
                    {"sequence": sequence},
                )


async def restore_backup(
    url: str, archive_path: Path, *, force: bool = False, progress: Progress | None = None
) -> Manifest:
    """Replace the store at `url` (missing, empty, or with `force` any) with a backup.

    The schema is made at the backup's revision, the rows loaded in one transaction, then the
    schema migrated to the newest. The store must not be in use meanwhile.
    """
    if url.startswith("memory://"):
        raise ConfigError("store.url is memory://: nothing outlives the process to restore into")
    with _open_archive(archive_path) as archive:
        manifest = _manifest(archive, archive_path)
        if not is_known_revision(manifest.schema_revision):
            raise InvalidInput(
                f"{archive_path}: made at schema revision {manifest.schema_revision}, which "
                f"this version does not know (newest: {head_revision()}); restore it with the "
                "version that made it"
            )
        state = await inspect_schema(url)
        where = describe_location(url)
        if state.status is SchemaStatus.UNKNOWN:
            raise ConfigError(f"{where} is not a store this version knows: not touched")
        engine = db.create_engine(url)
        try:
            if state.status is not SchemaStatus.MISSING and not force:
                seeded = await _seeded_tables(state.revision or "head")
                holding = [t for t in await _tables_with_rows(engine) if t not in seeded]
                if holding:
                    raise ConfigError(
                        f"the store at {where} is not empty ({', '.join(holding[:4])} hold "
                        "rows): restore into a new store, or pass --force to replace it"
                    )
            async with db.transaction(engine) as conn:
                await conn.run_sync(_drop_everything)
            await migrate(url, manifest.schema_revision)
            async with db.transaction(engine) as conn:
                await _load(conn, archive, archive_path, manifest, progress)
        finally:
            await engine.dispose()
    await migrate(url)
    return manifest


async def _load(
    conn: AsyncConnection,
    archive: tarfile.TarFile,
    where: Path,
    manifest: Manifest,
    progress: Progress | None,
) -> None:
    tables = {t.name: t for t in await conn.run_sync(_reflect)}
    missing = [t.name for t in manifest.tables if t.name not in tables]
    if missing:
        raise InvalidInput(f"{where}: tables unknown at its revision: {', '.join(missing)}")
    # The migrations seed some rows (counters); the backup holds their values.
    for table in reversed(list(tables.values())):
        await conn.execute(table.delete())
    dumps = {t.name: t for t in manifest.tables}
    for table in tables.values():  # parents before children
        dump = dumps.get(table.name)
        if dump is None:
            continue
        kinds = dict(dump.columns)
        unknown = set(kinds) - set(table.columns.keys())
        if unknown:
            raise InvalidInput(f"{where}: {table.name} has unknown columns {sorted(unknown)}")
        rows: Iterable[dict[str, Any]] = (
            {name: _loaded(value, kinds[name], table.columns[name]) for name, value in r.items()}
            for r in _rows(archive, dump, where)
        )
        if _self_links(table):
            rows = _parents_first(table, list(rows))
        loaded = 0
        for batch in _batches(rows):
            await conn.execute(insert(table), batch)
            loaded += len(batch)
            if progress is not None:
                progress(len(batch), manifest.rows)
        if loaded != dump.rows:  # the transaction rolls back: nothing half-restored stays
            raise InvalidInput(
                f"{where}: {table.name} holds {loaded} rows, its manifest says {dump.rows}"
            )
    if conn.dialect.name == "postgresql":
        await _reset_serials(conn, list(tables.values()))
