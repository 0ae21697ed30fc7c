"""A live index saved as a snapshot, reopened (memory-mapped, for the multi-hash index), and
brought up to date by syncing only the changes since (on memory, SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from hashes.index import ExactIndex, HashIndex
from hashes.index_multihash import MultiHashIndex
from hashes.matcher import Matcher
from tests.hashes.index_contract import answers, clustered_reference, queries_near
from tests.workers.hash_list import add_hashed_reference
from triage.errors import TriageError
from triage.models import ReferenceStatus
from triage.store import Store
from triage.store.memory import MemoryStore
from workers.live_index import SNAPSHOT_INDEX_DIR, live_index_of

KINDS: dict[str, tuple[Callable[[], HashIndex], Callable[[Path], HashIndex]]] = {
    "multihash": (MultiHashIndex, MultiHashIndex.open),
    "exact": (ExactIndex, ExactIndex.open),
}


@pytest.mark.parametrize("kind", sorted(KINDS))
async def test_restored_snapshot_syncs_only_the_changes_and_answers_as_a_full_load(
    store: Store, tmp_path: Path, kind: str
) -> None:
    make, open_saved = KINDS[kind]
    rng = np.random.default_rng(21)
    references = {f"ref-{i}": clustered_reference(rng) for i in range(6)}
    for reference_id, hashes in references.items():
        await add_hashed_reference(store, reference_id, hashes)
    first = live_index_of(store, Matcher(make()))
    assert await first.sync() == 6
    await first.save_snapshot(tmp_path / "snapshot")

    references["new"] = clustered_reference(rng)
    await add_hashed_reference(store, "new", references["new"])
    await store.set_reference_status("ref-1", ReferenceStatus.DISABLED)

    opened = open_saved(tmp_path / "snapshot" / SNAPSHOT_INDEX_DIR)
    if isinstance(opened, MultiHashIndex):
        assert isinstance(opened._base.codes, np.memmap)
    restored = live_index_of(store, Matcher(opened))
    restored.restore_snapshot(tmp_path / "snapshot")
    assert await restored.sync() == 2
    assert opened.reference_ids() == sorted(set(references) - {"ref-1"})
    assert restored.label("ref-0") == "label of ref-0"
    assert restored.label("new") == "label of new"

    full = make()
    assert await live_index_of(store, Matcher(full)).sync() == 7
    queries = queries_near(list(references.values()), rng)
    for radius in (16, 31, 76):
        assert answers(opened, queries, radius) == answers(full, queries, radius)


async def test_a_second_snapshot_replaces_the_first(store: Store, tmp_path: Path) -> None:
    rng = np.random.default_rng(22)
    folder = tmp_path / "snapshots"  # beside a SQLite store's files, which are not ours
    folder.mkdir()
    await add_hashed_reference(store, "a", clustered_reference(rng))
    live = live_index_of(store, Matcher(MultiHashIndex()))
    await live.sync()
    await live.save_snapshot(folder / "snapshot")
    await add_hashed_reference(store, "b", clustered_reference(rng))
    await live.sync()
    await live.save_snapshot(folder / "snapshot")
    opened = MultiHashIndex.open(folder / "snapshot" / SNAPSHOT_INDEX_DIR)
    assert opened.reference_ids() == ["a", "b"]
    assert sorted(p.name for p in folder.iterdir()) == ["snapshot"]


async def test_a_directory_without_a_snapshot_is_refused(tmp_path: Path) -> None:
    live = live_index_of(MemoryStore(), Matcher(MultiHashIndex()))
    with pytest.raises(TriageError, match="not a hash-list snapshot"):
        live.restore_snapshot(tmp_path)
