"""The live index follows the hash list in the store: the whole list on the first sync, then
only what changed since (`references_changed_since`): references added, hashed, disabled,
enabled and deleted. Every test that reads a store runs on memory, SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable

import numpy as np
import pytest
from prometheus_client import REGISTRY

from hashes.index import ExactIndex
from hashes.matcher import Matcher
from hashes.types import VideoHashes
from tests.hashes.index_contract import clustered_reference
from tests.workers.hash_list import add_hashed_reference, hash_record
from triage.models import ReferenceStatus
from triage.store import Store
from workers.live_index import LiveIndex


def _live(store: Store) -> tuple[LiveIndex, ExactIndex]:
    index = ExactIndex()
    return LiveIndex(store, index, Matcher(index)), index


def _references(count: int, seed: int) -> dict[str, VideoHashes]:
    rng = np.random.default_rng(seed)
    return {f"ref-{n}": clustered_reference(rng) for n in range(count)}


async def _add_all(store: Store, references: dict[str, VideoHashes]) -> None:
    for reference_id, hashes in references.items():
        await add_hashed_reference(store, reference_id, hashes)


async def test_nothing_is_loaded_before_the_first_sync(store: Store) -> None:
    await _add_all(store, _references(1, seed=1))
    live, index = _live(store)
    assert not live.loaded
    assert (len(live), len(index), live.version) == (0, 0, 0)


async def test_the_first_sync_loads_every_active_reference_with_its_label(store: Store) -> None:
    await _add_all(store, _references(3, seed=2))
    live, index = _live(store)
    assert await live.sync() == 3
    assert live.loaded and len(live) == 3
    assert index.reference_ids() == ["ref-0", "ref-1", "ref-2"]
    assert live.version == await store.hashlist_version()
    assert live.label("ref-1") == "label of ref-1"
    assert live.label("ref-unknown") == "ref-unknown"
    assert REGISTRY.get_sample_value("triage_hashlist_references") == 3
    assert REGISTRY.get_sample_value("triage_hashlist_version") == live.version


async def test_a_sync_with_nothing_changed_changes_nothing(store: Store) -> None:
    await _add_all(store, _references(2, seed=3))
    live, index = _live(store)
    await live.sync()
    version = live.version
    assert await live.sync() == 0
    assert live.version == version and index.reference_ids() == ["ref-0", "ref-1"]


async def test_an_empty_list_is_loaded_too(store: Store) -> None:
    live, _ = _live(store)
    assert await live.sync() == 0
    assert live.loaded and len(live) == 0


async def test_an_added_reference_is_indexed_on_the_next_sync_alone(store: Store) -> None:
    references = _references(3, seed=4)
    await add_hashed_reference(store, "ref-0", references["ref-0"])
    await add_hashed_reference(store, "ref-1", references["ref-1"])
    live, index = _live(store)
    await live.sync()
    await add_hashed_reference(store, "ref-2", references["ref-2"])
    assert await live.sync() == 1
    assert index.reference_ids() == ["ref-0", "ref-1", "ref-2"]
    assert live.version == await store.hashlist_version()


async def test_a_deleted_reference_leaves_the_index(store: Store) -> None:
    await _add_all(store, _references(2, seed=5))
    live, index = _live(store)
    await live.sync()
    await store.set_reference_status("ref-0", ReferenceStatus.DELETED)
    assert await live.sync() == 1
    assert index.reference_ids() == ["ref-1"] and len(live) == 1


async def test_a_disabled_reference_leaves_and_comes_back_when_enabled(store: Store) -> None:
    await _add_all(store, _references(2, seed=6))
    live, index = _live(store)
    await live.sync()
    await store.set_reference_status("ref-1", ReferenceStatus.DISABLED)
    await live.sync()
    assert index.reference_ids() == ["ref-0"]
    await store.set_reference_status("ref-1", ReferenceStatus.ACTIVE)
    assert await live.sync() == 1
    assert index.reference_ids() == ["ref-0", "ref-1"]


async def test_a_pending_reference_is_indexed_once_its_hashes_are_stored(store: Store) -> None:
    hashes = _references(1, seed=7)["ref-0"]
    pending = await store.add_reference(
        label="uploaded", source="test", added_by="test", upload_path="/uploads/ref.mp4"
    )
    live, index = _live(store)
    await live.sync()
    assert live.loaded and index.reference_ids() == []
    await store.set_reference_hashes(
        pending.id,
        hash_record(pending.id, hashes),
        frame_count=hashes.frame_count,
        duration_seconds=hashes.duration_seconds,
    )
    assert await live.sync() == 1
    assert index.reference_ids() == [pending.id] and live.label(pending.id) == "uploaded"


async def test_a_match_finds_indexed_references_only(store: Store) -> None:
    references = _references(2, seed=8)
    await _add_all(store, references)
    live, _ = _live(store)
    await live.sync()
    (found, *_) = await live.match(references["ref-0"])
    assert found.reference_id == "ref-0"
    await store.set_reference_status("ref-0", ReferenceStatus.DISABLED)
    await live.sync()
    assert all(m.reference_id != "ref-0" for m in await live.match(references["ref-0"]))


async def test_a_reference_whose_record_cannot_be_read_is_left_out(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    await _add_all(store, _references(1, seed=9))
    await store.add_reference(
        label="broken", source="test", added_by="test", hash_record="{", reference_id="ref-bad"
    )
    live, index = _live(store)
    with caplog.at_level(logging.ERROR, logger="workers.live_index"):
        assert await live.sync() == 2
    assert index.reference_ids() == ["ref-0"]
    assert any("ref-bad has an unreadable hash record" in r.getMessage() for r in caplog.records)


async def test_run_follows_the_list_until_stopped(store: Store) -> None:
    references = _references(2, seed=10)
    await add_hashed_reference(store, "ref-0", references["ref-0"])
    live, index = _live(store)
    stop = asyncio.Event()
    running = asyncio.create_task(live.run(stop, poll_seconds=0.02))
    try:
        await asyncio.wait_for(_until(lambda: len(live) == 1), 10)
        await add_hashed_reference(store, "ref-1", references["ref-1"])
        await asyncio.wait_for(_until(lambda: len(live) == 2), 10)
    finally:
        stop.set()
        await asyncio.wait_for(running, 10)
    assert index.reference_ids() == ["ref-0", "ref-1"]


async def _until(condition: Callable[[], bool]) -> None:
    while not condition():
        await asyncio.sleep(0.01)


OUR_DESIGN = "views-1;fps=4;every=1;active"


async def test_a_record_of_another_design_is_matched_on_its_full_frames_alone(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    made = _references(2, seed=13)
    ours = dataclasses.replace(made["ref-0"], view_design=OUR_DESIGN)
    theirs = dataclasses.replace(made["ref-1"], view_design="views-1;fps=all;every=2;active")
    await add_hashed_reference(store, "ours", ours)
    await add_hashed_reference(store, "theirs", theirs)
    index = ExactIndex()
    live = LiveIndex(store, index, Matcher(index), design=OUR_DESIGN)
    with caplog.at_level(logging.WARNING, logger="workers.live_index"):
        assert await live.sync() == 2
    assert len(index) == len(ours) + int(theirs.full_frame_rows().sum())
    assert REGISTRY.get_sample_value("triage_hashlist_other_design_references") == 1
    warned = [r.getMessage() for r in caplog.records]
    assert any("theirs: its derived views were made with 'views-1;fps=all" in m for m in warned)
    assert not any("ours" in m for m in warned)
    # Hashed again with this service's design, it is whole again.
    again = dataclasses.replace(theirs, view_design=OUR_DESIGN)
    await store.set_reference_hashes(
        "theirs", hash_record("theirs", again),
        frame_count=again.frame_count, duration_seconds=again.duration_seconds,
    )  # fmt: skip
    assert await live.sync() == 1
    assert len(index) == len(ours) + len(theirs)
    assert REGISTRY.get_sample_value("triage_hashlist_other_design_references") == 0
