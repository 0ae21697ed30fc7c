"""`MultiHashIndex` against the `HashIndex` contract up to its retrieval radius, and beyond
it: exact pairs of the references retrieved; saved and reopened memory-mapped."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from hashes.index import ExactIndex, FrozenIndex, HashIndex
from hashes.index_multihash import MultiHashIndex, retrieval_radius
from hashes.types import HashError
from tests.hashes.index_contract import (
    HashIndexContract,
    Pair,
    answers,
    clustered_reference,
    oracle,
    queries_near,
)


class TestMultiHashIndex(HashIndexContract):
    radii = (0, 16, 32, retrieval_radius(2))

    def make_index(self) -> HashIndex:
        return MultiHashIndex(flips=2)

    def freeze(self, index: HashIndex) -> FrozenIndex:
        assert isinstance(index, MultiHashIndex)
        return index.freeze()

    def open_saved(self, directory: Path) -> HashIndex:
        return MultiHashIndex.open(directory, flips=2)


class TestMultiHashIndexOneFlip(HashIndexContract):
    radii = (0, 8, retrieval_radius(1))

    def make_index(self) -> HashIndex:
        return MultiHashIndex(flips=1)

    def freeze(self, index: HashIndex) -> FrozenIndex:
        assert isinstance(index, MultiHashIndex)
        return index.freeze()

    def open_saved(self, directory: Path) -> HashIndex:
        return MultiHashIndex.open(directory, flips=1)


def _retrieved_only(expected: Counter[Pair], retrieved: set[str]) -> Counter[Pair]:
    return Counter({pair: n for pair, n in expected.items() if pair[1] in retrieved})


@pytest.mark.parametrize("flips", [0, 1, 2])
def test_beyond_the_retrieval_radius_every_pair_of_each_retrieved_reference_is_found(
    flips: int,
) -> None:
    rng = np.random.default_rng(11)
    live = {f"ref-{i}": clustered_reference(rng) for i in range(10)}
    index = MultiHashIndex(flips=flips)
    for reference_id, hashes in live.items():
        index.add(reference_id, hashes)
    index.rebuild()
    queries = queries_near(list(live.values()), rng)
    for whole in (False, True):
        near = oracle(live, queries, index.retrieval_bits, whole_pictures=whole)
        retrieved = {pair[1] for pair in near}
        assert retrieved
        found = answers(index, queries, 76, whole_pictures=whole)
        assert found == _retrieved_only(oracle(live, queries, 76, whole_pictures=whole), retrieved)


def test_added_references_are_searched_exactly_before_the_tables_are_rebuilt() -> None:
    rng = np.random.default_rng(12)
    index = MultiHashIndex(flips=0)
    index.add("only", clustered_reference(rng))  # below the rebuild threshold: not yet built
    exact = ExactIndex()
    exact.add("only", index_hashes := clustered_reference(np.random.default_rng(12)))
    queries = queries_near([index_hashes], rng)
    assert answers(index, queries, 76) == answers(exact, queries, 76)


def test_saved_index_reopens_memory_mapped_with_the_same_answers(tmp_path: Path) -> None:
    rng = np.random.default_rng(13)
    live = {f"ref-{i}": clustered_reference(rng) for i in range(8)}
    index = MultiHashIndex(flips=1)
    for reference_id, hashes in live.items():
        index.add(reference_id, hashes)
    index.save(tmp_path / "index")
    opened = MultiHashIndex.open(tmp_path / "index", flips=1)
    assert isinstance(opened._base.codes, np.memmap)
    queries = queries_near(list(live.values()), rng)
    for radius in (0, 31, 76):
        assert answers(opened, queries, radius) == answers(index, queries, radius)
    assert opened.reference_ids() == sorted(live)
    assert opened.info("ref-3").frame_count == live["ref-3"].frame_count
    assert np.array_equal(
        opened.info("ref-3").full_frame_qualities, live["ref-3"].full_frame().qualities
    )
    # The opened index still changes: a removal and an addition on top of the mapped files.
    opened.remove("ref-0")
    del live["ref-0"]
    live["new"] = clustered_reference(rng)
    opened.add("new", live["new"])
    assert answers(opened, queries, 31) == oracle(live, queries, 31)


def test_a_directory_without_an_index_is_refused(tmp_path: Path) -> None:
    with pytest.raises(HashError, match="cannot open the index"):
        MultiHashIndex.open(tmp_path)


def test_an_exact_index_is_refused_naming_it(tmp_path: Path) -> None:
    ExactIndex().save(tmp_path / "index")
    with pytest.raises(HashError, match="holds a 'exact' index, not 'multihash'"):
        MultiHashIndex.open(tmp_path / "index")


def test_saving_leaves_the_opened_index_mapped(tmp_path: Path) -> None:
    rng = np.random.default_rng(15)
    index = MultiHashIndex()
    index.add("a", clustered_reference(rng))
    index.save(tmp_path / "first")
    opened = MultiHashIndex.open(tmp_path / "first")
    opened.add("b", clustered_reference(rng))
    opened.save(tmp_path / "second")
    # The files have both; the process keeps its shared mapping and a small added part.
    assert isinstance(opened._base.codes, np.memmap)
    assert MultiHashIndex.open(tmp_path / "second").reference_ids() == ["a", "b"]


def test_flips_beyond_three_are_refused() -> None:
    with pytest.raises(HashError, match="flips must be 0-3"):
        MultiHashIndex(flips=4)


def test_queries_are_searched_in_batches_with_the_same_answers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = np.random.default_rng(14)
    live = {f"ref-{i}": clustered_reference(rng) for i in range(10)}
    index = MultiHashIndex(flips=1)
    for reference_id, hashes in live.items():
        index.add(reference_id, hashes)
    queries = queries_near(list(live.values()), rng)
    whole = answers(index, queries, 31)
    # Black and flat rows fill a few buckets: tiny batches split the queries many times.
    monkeypatch.setattr("hashes.index_multihash._BATCH_CANDIDATES", 50)
    assert len(index._batches(queries)) > 10
    assert answers(index, queries, 31) == whole == oracle(live, queries, 31)
