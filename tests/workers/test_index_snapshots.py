"""The live index started from its snapshot (syncing only the later changes), snapshots that
cannot be used ignored with a warning and the list rebuilt, when snapshots are written and by
whom, and `/readyz` while the index loads (on memory, SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import dataclasses
import fcntl
import json
import logging
from pathlib import Path

import numpy as np
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import REGISTRY

from hashes.index import ExactIndex
from hashes.index_multihash import MultiHashIndex
from hashes.video.params import ReferenceParams
from tests.hashes.index_contract import clustered_reference
from tests.workers.hash_list import add_hashed_reference
from triage import metrics
from triage.api.app import create_app
from triage.config import Settings, load_settings
from triage.models import ReferenceStatus
from triage.store import Store
from triage.store.memory import MemoryStore
from workers.index_snapshots import IndexSnapshots, LoadState
from workers.live_index import SNAPSHOT_INDEX_DIR, SNAPSHOT_LIST_FILE, LiveIndex
from workers.service import WorkerService, live_index

KINDS = ("exact", "multihash", "tiered")


def _settings(tmp_path: Path, kind: str = "exact", **extra: str) -> Settings:
    return load_settings(
        None,
        {
            "TRIAGE_DATA_DIR": str(tmp_path / "data"),
            "TRIAGE_STORE__URL": "memory://",
            "TRIAGE_INDEX__KIND": kind,
            **extra,
        },
    )


def _snapshots(store: Store, settings: Settings) -> tuple[LiveIndex, IndexSnapshots]:
    live = live_index(store, settings)
    snapshots = IndexSnapshots(
        live, store, settings.index, settings.index_snapshot_dir, settings.match.match_params()
    )
    return live, snapshots


async def _add(store: Store, *names: str, seed: int = 0) -> None:
    """References of the design the default settings hash with."""
    rng = np.random.default_rng(seed)
    design = ReferenceParams().design
    for name in names:
        hashes = dataclasses.replace(clustered_reference(rng), view_design=design)
        await add_hashed_reference(store, name, hashes)


async def _written(store: Store, settings: Settings) -> None:
    """A first process: loads the list from the store and writes the first snapshot."""
    _, snapshots = _snapshots(store, settings)
    await snapshots.load()
    assert snapshots.due()
    assert await snapshots.write()
    assert (settings.index_snapshot_dir / SNAPSHOT_LIST_FILE).is_file()


def _messages(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "workers.index_snapshots" and r.levelno == level
    ]


def _loaded_from(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        m.split(" in ")[0]
        for m in _messages(caplog, logging.INFO)
        if m.startswith("hash list loaded from")
    ]


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return _messages(caplog, logging.WARNING)


# --- starting from a snapshot ---------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
async def test_a_start_from_the_snapshot_syncs_only_the_later_changes(
    store: Store, tmp_path: Path, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = _settings(tmp_path, kind)
    await _add(store, *(f"ref-{i}" for i in range(6)))
    await _written(store, settings)
    await _add(store, "new", seed=1)
    await store.set_reference_status("ref-1", ReferenceStatus.DELETED)

    live, snapshots = _snapshots(store, settings)
    caplog.clear()  # earlier steps may have logged too
    with caplog.at_level(logging.INFO, logger="workers.index_snapshots"):
        await snapshots.load()
    assert live.changes_applied == 2  # the new reference and the deletion, nothing else
    assert live.version == await store.hashlist_version()
    assert len(live) == 6 and live.label("new") == "label of new"
    assert live.label("ref-0") == "label of ref-0"
    assert _loaded_from(caplog) == ["hash list loaded from the snapshot"]
    assert metrics.index_load_seconds.labels(source="snapshot")._value.get() > 0
    index = live._index
    assert isinstance(index, ExactIndex if kind == "exact" else MultiHashIndex)
    assert index.reference_ids() == sorted({f"ref-{i}" for i in range(6)} - {"ref-1"} | {"new"})
    if isinstance(index, MultiHashIndex):
        assert isinstance(index._base.codes, np.memmap)  # shared through the page cache
    assert not snapshots.due()  # 2 changes, below snapshot_after_changes


async def test_a_start_without_a_snapshot_reads_the_store_and_writes_the_first(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = MemoryStore()
    settings = _settings(tmp_path, "multihash")
    await _add(store, "a", "b")
    live, snapshots = _snapshots(store, settings)
    caplog.clear()  # earlier steps may have logged too
    with caplog.at_level(logging.INFO, logger="workers.index_snapshots"):
        await snapshots.load()
        assert live.changes_applied == 2 and snapshots.due()
        assert await snapshots.write()
    assert _loaded_from(caplog) == ["hash list loaded from the store"]
    opened = MultiHashIndex.open(settings.index_snapshot_dir / SNAPSHOT_INDEX_DIR)
    assert opened.reference_ids() == ["a", "b"]
    assert not snapshots.due()
    assert metrics.index_snapshot_timestamp_seconds._value.get() > 0


# --- snapshots that cannot be used ----------------------------------------------------------


def _cut_short(settings: Settings) -> None:
    codes = settings.index_snapshot_dir / SNAPSHOT_INDEX_DIR / "codes.npy"
    codes.write_bytes(codes.read_bytes()[:-64])


def _other_format(settings: Settings) -> None:
    listing = settings.index_snapshot_dir / SNAPSHOT_LIST_FILE
    listing.write_text(json.dumps({**json.loads(listing.read_text()), "format_version": 99}))


@pytest.mark.parametrize(
    ("spoil", "why"),
    [
        (_cut_short, "cannot open the index"),
        (_other_format, "snapshot format 99, this version reads 1"),
    ],
)
@pytest.mark.parametrize("kind", KINDS)
async def test_an_unusable_snapshot_is_ignored_with_a_warning_and_rebuilt(
    store: Store,
    tmp_path: Path,
    kind: str,
    spoil: object,
    why: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = _settings(tmp_path, kind)
    await _add(store, "a", "b", "c")
    await _written(store, settings)
    assert callable(spoil)
    spoil(settings)

    live, snapshots = _snapshots(store, settings)
    caplog.clear()  # earlier steps may have logged too
    with caplog.at_level(logging.INFO, logger="workers.index_snapshots"):
        await snapshots.load()
    (warning,) = _warnings(caplog)
    assert warning.startswith("index snapshot ignored, rebuilding the hash list from the store")
    assert why in warning
    assert _loaded_from(caplog) == ["hash list loaded from the store"]
    assert live.changes_applied == 3 and len(live) == 3
    # The spoilt snapshot is replaced, though it claims the same version.
    assert snapshots.due() and await snapshots.write()
    again, reopened = _snapshots(store, settings)
    await reopened.load()
    assert again.changes_applied == 0 and len(again) == 3


async def test_a_snapshot_of_another_kind_of_index_is_ignored_and_rebuilt(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = MemoryStore()
    await _add(store, "a", "b")
    await _written(store, _settings(tmp_path, "exact"))
    live, snapshots = _snapshots(store, _settings(tmp_path, "multihash"))
    caplog.clear()  # earlier steps may have logged too
    with caplog.at_level(logging.WARNING, logger="workers.index_snapshots"):
        await snapshots.load()
    (warning,) = _warnings(caplog)
    assert "holds a 'exact' index, not 'multihash'" in warning
    assert live.changes_applied == 2 and isinstance(live._index, MultiHashIndex)


async def test_a_snapshot_of_another_reference_design_is_ignored_and_rebuilt(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = MemoryStore()
    await _add(store, "a", "b")
    await _written(store, _settings(tmp_path))
    denser = _settings(tmp_path, TRIAGE_MATCH__REFERENCE_FPS="8")
    live, snapshots = _snapshots(store, denser)
    caplog.clear()  # earlier steps may have logged too
    with caplog.at_level(logging.WARNING, logger="workers.index_snapshots"):
        await snapshots.load()
    (warning,) = _warnings(caplog)
    assert f"holds references of design {ReferenceParams().design!r}" in warning
    assert "this service hashes them with 'views-1;fps=8;" in warning
    # Rebuilt from the store, where both are of the design the service no longer makes.
    assert live.changes_applied == 2
    assert REGISTRY.get_sample_value("triage_hashlist_other_design_references") == 2


async def test_a_snapshot_ahead_of_the_store_is_ignored_and_replaced(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = _settings(tmp_path)
    written = MemoryStore()
    await _add(written, "a", "b", "c")
    await _written(written, settings)
    other = MemoryStore()  # a store restored from an older backup, say
    await _add(other, "x")
    live, snapshots = _snapshots(other, settings)
    caplog.clear()  # earlier steps may have logged too
    with caplog.at_level(logging.WARNING, logger="workers.index_snapshots"):
        await snapshots.load()
    (warning,) = _warnings(caplog)
    assert "reflects hash-list version 3, the store is at 1" in warning
    assert live._index.reference_ids() == ["x"]  # type: ignore[attr-defined]
    assert await snapshots.write()
    assert ExactIndex.open(settings.index_snapshot_dir / SNAPSHOT_INDEX_DIR).reference_ids() == [
        "x"
    ]


async def test_with_snapshots_off_nothing_is_read_or_written(tmp_path: Path) -> None:
    store = MemoryStore()
    await _add(store, "a")
    settings = _settings(tmp_path, TRIAGE_INDEX__SNAPSHOTS="false")
    live, snapshots = _snapshots(store, settings)
    await snapshots.load()
    stop = asyncio.Event()
    stop.set()
    await snapshots.run(stop, 0.01)
    assert len(live) == 1 and not snapshots.due()
    assert not settings.index_snapshot_dir.exists()


# --- writing --------------------------------------------------------------------------------


async def test_a_snapshot_is_due_after_enough_changes_or_after_the_interval(
    tmp_path: Path,
) -> None:
    store = MemoryStore()
    await _add(store, "a")
    settings = _settings(
        tmp_path,
        TRIAGE_INDEX__SNAPSHOT_AFTER_CHANGES="3",
        TRIAGE_INDEX__SNAPSHOT_EVERY_SECONDS="3600",
    )
    await _written(store, settings)
    live, snapshots = _snapshots(store, settings)
    await snapshots.load()
    await _add(store, "b", "c", seed=2)
    await live.sync()
    assert not snapshots.due()  # 2 changes, within the hour
    await _add(store, "d", seed=3)
    await live.sync()
    assert snapshots.due()
    assert await snapshots.write()
    assert not snapshots.due()

    hurried = settings.model_copy(
        update={"index": settings.index.model_copy(update={"snapshot_every_seconds": 0.01})}
    )
    live, snapshots = _snapshots(store, hurried)
    await snapshots.load()
    await asyncio.sleep(0.02)
    assert not snapshots.due()  # nothing changed since the snapshot
    await store.set_reference_status("a", ReferenceStatus.DISABLED)
    await live.sync()
    assert snapshots.due()


async def test_one_writer_at_a_time_and_none_when_the_snapshot_on_disk_is_as_new(
    tmp_path: Path,
) -> None:
    store = MemoryStore()
    await _add(store, "a")
    settings = _settings(tmp_path)
    _, first_snapshots = _snapshots(store, settings)
    _, second_snapshots = _snapshots(store, settings)
    await first_snapshots.load()
    await second_snapshots.load()
    lock_path = settings.index_snapshot_dir.with_name("index.lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a") as held:  # another process writing
        fcntl.flock(held, fcntl.LOCK_EX)
        assert not await first_snapshots.write()
        assert first_snapshots.due()  # tried again at the next poll
    assert await first_snapshots.write()
    listing = (settings.index_snapshot_dir / SNAPSHOT_LIST_FILE).read_text()
    assert not await second_snapshots.write()  # as new as its own list: left alone
    assert (settings.index_snapshot_dir / SNAPSHOT_LIST_FILE).read_text() == listing
    assert not second_snapshots.due()
    assert sorted(p.name for p in settings.index_snapshot_dir.parent.iterdir()) == [
        "index",
        "index.lock",
    ]


async def test_a_snapshot_that_cannot_be_written_is_logged_and_tried_again_later(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = MemoryStore()
    await _add(store, "a")
    (tmp_path / "a-file").write_text("")
    settings = _settings(tmp_path, TRIAGE_INDEX__SNAPSHOT_DIR=str(tmp_path / "a-file" / "index"))
    live, snapshots = _snapshots(store, settings)
    await snapshots.load()
    failed = metrics.index_snapshot_writes_total.labels(outcome="failed")
    before = failed._value.get()
    stop = asyncio.Event()
    caplog.clear()  # earlier steps may have logged too
    with caplog.at_level(logging.ERROR, logger="workers.index_snapshots"):
        running = asyncio.create_task(snapshots.run(stop, 0.01))
        await asyncio.sleep(0.1)
        stop.set()
        await running  # the process goes on serving
    assert failed._value.get() == before + 1  # once, not at every poll
    (error,) = _messages(caplog, logging.ERROR)
    assert error.startswith("cannot write the index snapshot to ")
    assert not snapshots.due()  # until snapshot_every_seconds passed
    assert len(live) == 1


# --- readiness ------------------------------------------------------------------------------


async def test_readyz_is_503_while_the_snapshot_loads_and_200_once_synced(
    tmp_path: Path,
) -> None:
    store = MemoryStore()
    await _add(store, "a", "b")
    settings = _settings(tmp_path, "multihash")
    await _written(store, settings)
    await _add(store, "c", seed=4)
    async with WorkerService(store, settings, slots=0) as service:
        app = create_app(store, settings, readiness=service.readiness())
        client: TestClient[web.Request, web.Application] = TestClient(TestServer(app))
        await client.start_server()
        lock_path = settings.index_snapshot_dir.with_name("index.lock")
        held = lock_path.open("a")
        try:
            ready = await client.get("/readyz")
            assert ready.status == 503
            assert (await ready.json())["reasons"]["index"] == LoadState.WAITING
            # A writer holds the snapshot: the load waits for it in a thread.
            fcntl.flock(held, fcntl.LOCK_EX)
            loading = asyncio.create_task(service.snapshots.load())
            await asyncio.sleep(0.2)
            assert not loading.done()
            assert (await client.get("/healthz")).status == 200  # the event loop answers
            ready = await client.get("/readyz")
            assert ready.status == 503
            reasons = (await ready.json())["reasons"]
            assert reasons == {"index": "loading the hash list from the snapshot"}
            fcntl.flock(held, fcntl.LOCK_UN)
            await asyncio.wait_for(loading, 30)
            assert (await client.get("/readyz")).status == 200
            assert service.index.changes_applied == 1 and len(service.index) == 3
        finally:
            held.close()
            await client.close()


async def test_a_start_from_an_up_to_date_snapshot_reports_its_list(tmp_path: Path) -> None:
    store = MemoryStore()
    await _add(store, "a", "b")
    settings = _settings(tmp_path, "multihash")
    await _written(store, settings)
    metrics.hashlist_references.set(0)
    live, snapshots = _snapshots(store, settings)
    await snapshots.load()
    assert live.changes_applied == 0
    assert metrics.hashlist_references._value.get() == 2
    assert metrics.hashlist_version._value.get() == live.version == 2
