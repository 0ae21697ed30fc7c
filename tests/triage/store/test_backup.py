"""Backup archives of SQL stores: across backends, from older schema revisions, and the ways
a restore refuses (not an archive, a revision this version does not know, memory://)."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.triage.store.backends import postgres_database
from triage.errors import ConfigError, InvalidInput
from triage.models import ApiKey, Scope
from triage.store import open_store
from triage.store.backup import read_manifest, restore_backup, write_backup
from triage.store.engine import create_engine
from triage.store.schema import SchemaStatus, head_revision, inspect_schema, migrate


@pytest.fixture
def empty_postgres() -> Iterator[str]:
    with postgres_database(migrated=False) as url:
        yield url


async def _fill(url: str) -> None:
    store = open_store(url)
    try:
        await store.create_api_key("ops", {Scope.ADMIN}, ApiKey.digest("tt_a"))
        await store.create_api_key("feed", {Scope.READ}, ApiKey.digest("tt_b"), hosts=["a.com"])
        await store.append_audit(actor="cli", action="key.create", details={"n": [1, "é"]})
    finally:
        await store.close()


async def _contents(url: str) -> tuple[list[ApiKey], list[object]]:
    store = open_store(url)
    try:
        return await store.list_api_keys(), list(await store.list_audit())
    finally:
        await store.close()


async def test_a_sqlite_backup_restores_into_postgresql(
    tmp_path: Path, empty_postgres: str
) -> None:
    sqlite = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    await migrate(sqlite)
    await _fill(sqlite)
    archive = tmp_path / "backup.tar.gz"
    manifest = await write_backup(sqlite, archive)
    assert manifest.schema_revision == head_revision() and manifest.source == "sqlite"
    assert read_manifest(archive) == manifest

    copied: list[tuple[int, int]] = []
    await restore_backup(empty_postgres, archive, progress=lambda n, t: copied.append((n, t)))
    assert await _contents(empty_postgres) == await _contents(sqlite)
    assert sum(n for n, _ in copied) == manifest.rows == copied[-1][1]
    # The restored store goes on: new keys and audit entries take fresh ids and cursors.
    await _fill_more(empty_postgres)


async def _fill_more(url: str) -> None:
    store = open_store(url)
    try:
        await store.create_api_key("more", {Scope.SUBMIT}, ApiKey.digest("tt_c"))
        entry = await store.append_audit(actor="cli", action="key.create")
        assert entry.cursor == 2
    finally:
        await store.close()


async def test_a_backup_of_an_older_schema_restores_at_the_newest(tmp_path: Path) -> None:
    # Back up before `triage migrate`: the archive keeps revision 0001, the restore upgrades.
    old = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    await migrate(old, "0001")
    engine = create_engine(old)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO api_keys (id, name, digest, scopes, hosts, created_at) VALUES "
                    "('key_1', 'ops', 'd1', 'admin', NULL, '2026-11-30 10:00:00.000000')"
                )
            )
    finally:
        await engine.dispose()
    archive = tmp_path / "old.tar.gz"
    assert (await write_backup(old, archive)).schema_revision == "0001"

    new = f"sqlite:///{tmp_path / 'new.sqlite3'}"
    await restore_backup(new, archive)
    state = await inspect_schema(new)
    assert state.status is SchemaStatus.CURRENT
    (key,) = (await _contents(new))[0]
    assert (key.id, key.name, key.created_at.isoformat()) == (
        "key_1",
        "ops",
        "2026-11-30T10:00:00+00:00",
    )


async def test_restore_refuses_what_it_cannot_use(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    not_an_archive = tmp_path / "notes.tar.gz"
    not_an_archive.write_text("hello")
    with pytest.raises(InvalidInput, match="cannot read the backup"):
        await restore_backup(url, not_an_archive)

    newer = tmp_path / "newer.tar.gz"
    manifest = {
        "format": "triage-backup",
        "format_version": 1,
        "schema_revision": "9999",
        "created_at": "2026-12-01T00:00:00+00:00",
        "source": "sqlite",
        "tables": [],
    }
    with tarfile.open(newer, "w:gz") as archive:
        data = json.dumps(manifest).encode()
        info = tarfile.TarInfo("manifest.json")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    with pytest.raises(InvalidInput, match="revision 9999, which this version does not know"):
        await restore_backup(url, newer)
    assert not Path(url.removeprefix("sqlite:///")).exists()  # nothing made

    with pytest.raises(ConfigError, match="memory"):
        await restore_backup("memory://", newer)
    with pytest.raises(ConfigError, match="memory"):
        await write_backup("memory://", tmp_path / "x.tar.gz")
    with pytest.raises(ConfigError, match="no store at"):
        await write_backup(url, tmp_path / "x.tar.gz")


async def test_a_truncated_archive_is_refused_before_the_store_is_touched(tmp_path: Path) -> None:
    source = f"sqlite:///{tmp_path / 'source.sqlite3'}"
    await migrate(source)
    store = open_store(source)
    try:
        for _ in range(300):
            await store.append_audit(actor="cli", action="key.create", details={"pad": "x" * 300})
    finally:
        await store.close()
    archive = tmp_path / "backup.tar.gz"
    await write_backup(source, archive)
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(archive.read_bytes()[: archive.stat().st_size * 2 // 3])

    target = f"sqlite:///{tmp_path / 'target.sqlite3'}"
    with pytest.raises(InvalidInput, match="damaged archive"):
        await restore_backup(target, cut)
    assert not Path(target.removeprefix("sqlite:///")).exists()  # refused before any change


async def test_a_table_shorter_than_its_manifest_says_restores_nothing(tmp_path: Path) -> None:
    source = f"sqlite:///{tmp_path / 'source.sqlite3'}"
    await migrate(source)
    await _fill(source)
    archive = tmp_path / "backup.tar.gz"
    await write_backup(source, archive)
    # The same archive with the audit log's last row missing.
    edited = tmp_path / "edited.tar.gz"
    with tarfile.open(archive, "r:gz") as original, tarfile.open(edited, "w:gz") as copy:
        for member in original.getmembers():
            data = original.extractfile(member)
            assert data is not None
            content = data.read()
            if member.name == "tables/audit_log.jsonl":
                content = b"".join(content.splitlines(keepends=True)[:-1])
            member.size = len(content)
            copy.addfile(member, io.BytesIO(content))

    target = f"sqlite:///{tmp_path / 'target.sqlite3'}"
    with pytest.raises(InvalidInput, match="audit_log holds 0 rows, its manifest says 1"):
        await restore_backup(target, edited)
    assert await _contents(target) == ([], [])  # the keys loaded before it were rolled back
