"""What only the SQL backends have: migrations, SQLite's file sharing, driver errors."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory

from tests.conftest import REPO_ROOT
from tests.triage.store.backends import CONTRACT_POLICY, FakeClock, open_migrated, store_url
from triage.errors import ConfigError, StoreError
from triage.models import JobKind, Verdict
from triage.store import MemoryStore, SqlStore, Store, open_store
from triage.store.sql import MIGRATIONS_DIR


def _head_revision() -> str:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    head = ScriptDirectory.from_config(config).get_current_head()
    if head is None:
        raise LookupError("no migration head")
    return head


@pytest.fixture(params=["sqlite", "postgresql"])
def sql_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated database, private to the test."""
    if request.param == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        return store_url("sqlite", tmp_path, postgres_url=None, sqlite_template=template)
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
async def two_stores(sql_url: str, clock: FakeClock) -> AsyncIterator[tuple[Store, Store]]:
    """Two stores on one database, each with its own engine, like two processes."""
    first = await open_migrated(sql_url, clock, CONTRACT_POLICY)
    second = open_store(sql_url, clock=clock)
    yield first, second
    await first.close()
    await second.close()


def test_open_store_picks_the_backend_from_the_scheme(tmp_path: Path) -> None:
    assert isinstance(open_store("memory://"), MemoryStore)
    assert isinstance(open_store(f"sqlite:///{tmp_path / 'a.sqlite3'}"), SqlStore)
    assert isinstance(open_store("postgresql://postgres@127.0.0.1:5432/test"), SqlStore)


@pytest.mark.parametrize("url", ["mysql://x/y", "sqlite:///:memory:", "sqlite:///"])
def test_open_store_refuses_other_urls(url: str) -> None:
    with pytest.raises(ConfigError, match=r"store\.url"):
        open_store(url)


async def test_migrations_reach_the_single_head(sql_url: str, clock: FakeClock) -> None:
    store = await open_migrated(sql_url, clock, CONTRACT_POLICY)
    try:
        await store.migrate()  # already there: a no-op
        assert isinstance(store, SqlStore)
        assert await store.schema_revision() == _head_revision()
    finally:
        await store.close()


async def test_unknown_revision_is_a_store_error(tmp_path: Path) -> None:
    store = SqlStore(f"sqlite:///{tmp_path / 'triage.sqlite3'}")
    try:
        with pytest.raises(StoreError, match="9999"):
            await store.migrate("9999")
    finally:
        await store.close()


async def test_concurrent_migrations_on_a_new_database_both_succeed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new' / 'triage.sqlite3'}"
    stores = [open_store(url), open_store(url)]
    try:
        await asyncio.gather(*(store.migrate() for store in stores))
        assert await stores[1].hashlist_version() == 0
    finally:
        for store in stores:
            await store.close()


async def test_sqlite_file_is_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "triage.sqlite3"
    store = open_store(f"sqlite:///{path}")
    await store.migrate()
    await store.close()
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)


async def test_two_engines_on_one_database_never_share_a_job(
    two_stores: tuple[Store, Store],
) -> None:
    first, second = two_stores
    for n in range(6):
        await first.enqueue_job(JobKind.PROCESS_MEDIA, f"m{n}")
    claims = await asyncio.gather(
        *(store.claim_job(f"w{n}") for n, store in enumerate([first, second] * 6))
    )
    taken = [job.id for job in claims if job is not None]
    assert len(taken) == 6 and len(set(taken)) == 6


CLAIM_LOOP = """
import asyncio, sys
from triage.store import open_store

async def main() -> None:
    store = open_store(sys.argv[1])
    while (job := await store.claim_job(sys.argv[2])) is not None:
        await store.complete_job(job.id, sys.argv[2])
        print(job.id, flush=True)
    await store.close()

asyncio.run(main())
"""


async def test_separate_processes_share_one_sqlite_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'triage.sqlite3'}"
    store = open_store(url)
    await store.migrate()
    enqueued = {(await store.enqueue_job(JobKind.PROCESS_MEDIA, f"m{n}")).id for n in range(40)}
    workers = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            CLAIM_LOOP,
            url,
            f"worker-{n}",
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
        )
        for n in range(2)
    ]
    outputs = [await worker.communicate() for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0]
    per_worker = [out.decode().split() for out, _ in outputs]
    claimed = [job_id for ids in per_worker for job_id in ids]
    assert sorted(claimed) == sorted(enqueued)  # each job exactly once
    done = await store.list_jobs(limit=100)
    assert {job.state.value for job in done} == {"done"}
    await store.close()


async def test_unreachable_database_raises_store_error() -> None:
    # Port 1 on loopback: nothing listens there, so the connection is refused at once.
    store = open_store("postgresql://postgres@127.0.0.1:1/test")
    try:
        with pytest.raises(StoreError):
            await store.ping()
    finally:
        await store.close()


# A match as the first schema's builds stored it.
FIRST_SCHEMA_MATCH = {
    "reference_id": "ref_a",
    "label": "A",
    "score": 2.0,
    "query_coverage": 1.0,
    "reference_coverage": 0.5,
    "matched_seconds": 4.0,
}


async def test_upgrade_from_first_schema_keeps_results_in_the_match_feed(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    store = SqlStore(f"sqlite:///{path}")
    await store.migrate("0001")
    match = {**FIRST_SCHEMA_MATCH, "segments": []}
    with sqlite3.connect(path) as connection:
        connection.execute(
            "INSERT INTO media (id, url, created_at) "
            "VALUES ('med_1', 'https://Video.Example/x', '2026-01-01 00:00:00.000000')"
        )
        connection.execute(
            "INSERT INTO results (media_id, verdict, matches, query_hashes, created_at) "
            "VALUES ('med_1', 'confirmed', ?, 'Q', '2026-01-01 00:00:01.000000')",
            (json.dumps([match]),),
        )
    await store.migrate()
    assert await store.schema_revision() == _head_revision()
    [record] = await store.list_matches(reference_id="ref_a", hosts=["video.example"])
    assert (record.cursor, record.host, record.verdict.value) == (1, "video.example", "confirmed")
    await store.record_result("med_1", verdict=Verdict.NONE, matches=[], query_hashes="Q2")
    [moved] = await store.list_matches(after=1)
    assert moved.cursor == 2
    await store.close()


async def test_evidence_of_an_older_or_later_build_loads(tmp_path: Path) -> None:
    """Stored evidence without the fields added since (speed, views) reads with their
    defaults; one with fields a later build added reads too, so a rollback keeps working."""
    path = tmp_path / "mixed.sqlite3"
    store = SqlStore(f"sqlite:///{path}")
    await store.migrate("0001")
    segment = {"query_start": 0, "query_end": 4, "reference_start": 1, "reference_end": 5}
    older = {**FIRST_SCHEMA_MATCH, "segments": [{**segment, "score": 2}]}
    later = {**older, "reference_id": "ref_b", "views": ["side"], "crop_box": [0, 1, 0, 1]}
    with sqlite3.connect(path) as connection:
        for number, match in enumerate((older, later), start=1):
            connection.execute(
                "INSERT INTO media (id, url, created_at) VALUES "
                f"('med_{number}', 'https://video.example/{number}', '2026-01-01 00:00:00.0')"
            )
            connection.execute(
                "INSERT INTO results (media_id, verdict, matches, query_hashes, created_at) "
                f"VALUES ('med_{number}', 'confirmed', ?, 'Q', '2026-01-01 00:00:0{number}.0')",
                (json.dumps([match]),),
            )
    await store.migrate()
    first, second = await store.list_matches()
    assert (first.matches[0].speed, first.matches[0].views) == (1.0, ())
    assert first.matches[0].segments[0].matched_frames == 0
    assert second.matches[0].views == ("side",)
    await store.close()


async def test_upgrade_marks_references_stored_with_full_frames_only(tmp_path: Path) -> None:
    """References hashed before every view was stored are marked; those whose record carries
    derived views, or that wait for hashing, are not."""
    path = tmp_path / "before.sqlite3"
    store = SqlStore(f"sqlite:///{path}")
    await store.migrate("0002")
    full = '{"format":"triage.hashlist","id":"ref_a","frames":[]}\n'
    every = '{"format":"triage.hashlist","id":"ref_b","frames":[],"derived_frames":{}}\n'
    # A label naming the key inside a string value is no key: its quotes are escaped.
    tricky = '{"format":"triage.hashlist","label":"\\"derived_frames\\":","frames":[]}\n'
    with sqlite3.connect(path) as connection:
        for reference_id, record in (("ref_a", full), ("ref_b", every), ("ref_c", tricky),
                                     ("ref_d", None)):  # fmt: skip
            connection.execute(
                "INSERT INTO hash_references (id, label, source, added_by, added_at, updated_at,"
                " status, frame_count, duration_seconds, upload_path, version, hash_record) "
                "VALUES (?, 'x', 'x.mp4', 'key', '2026-01-01 00:00:00.0',"
                " '2026-01-01 00:00:00.0', ?, 0, 0, NULL, 1, ?)",
                (reference_id, "pending" if record is None else "active", record),
            )
    await store.migrate()
    marked = {r.id: r.full_frames_only for r in await store.list_references()}
    assert marked == {"ref_a": True, "ref_b": False, "ref_c": True, "ref_d": False}
    await store.close()


async def test_upgrade_gives_queued_media_jobs_the_key_of_their_first_submission(
    tmp_path: Path,
) -> None:
    """Jobs queued before fair claims get their key, so a flood already queued is served in
    turns after the upgrade; internal jobs stay keyless, every job on the short lane."""
    path = tmp_path / "before-fairness.sqlite3"
    store = SqlStore(f"sqlite:///{path}")
    await store.migrate("0003")
    with sqlite3.connect(path) as connection:
        connection.execute(
            "INSERT INTO media (id, url, created_at) "
            "VALUES ('med_1', 'https://video.example/1', '2026-01-01 00:00:00.0')"
        )
        for submission_id, key_id, at in (("sub_2", "key_b", "01"), ("sub_1", "key_a", "00")):
            connection.execute(
                "INSERT INTO submissions (id, url, key_id, media_id, created_at) VALUES "
                f"(?, 'https://video.example/1', ?, 'med_1', '2026-01-01 00:00:{at}.0')",
                (submission_id, key_id),
            )
        for job_id, kind, target in (("job_1", "process_media", "med_1"),
                                     ("job_2", "retro_match", "ref_a")):  # fmt: skip
            connection.execute(
                "INSERT INTO jobs (id, kind, target_id, state, attempts, max_attempts, "
                "run_after, created_at, updated_at) VALUES (?, ?, ?, 'queued', 0, 5, "
                "'2026-01-01 00:00:00.0', '2026-01-01 00:00:00.0', '2026-01-01 00:00:00.0')",
                (job_id, kind, target),
            )
    await store.migrate()
    media_job, retro_job = await store.get_job("job_1"), await store.get_job("job_2")
    assert (media_job.key_id, media_job.lane.value) == ("key_a", "short")
    assert (retro_job.key_id, retro_job.lane.value) == (None, "short")
    await store.close()
