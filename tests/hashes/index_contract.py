"""The contract every `hashes.index.HashIndex` implementation passes, as a mixin.

A test module subclasses `HashIndexContract` with `make_index` returning a fresh index; every
answer is checked against a numpy popcount oracle over the live references' rows, on hashes
clustered the way real lists are: frames of one shot 0-48 bits apart, the same black and flat
frames repeated across references.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from hashes.index import WHOLE_PICTURE_VIEWS, FrozenIndex, HashIndex
from hashes.types import PDQ_BYTES, HashError, VideoHashes, View

Pair = tuple[int, str, float, int, int]  # query row, reference id, time, quality, distance

BLACK = np.zeros(PDQ_BYTES, dtype=np.uint8)
# A flat wall: a hash with a few bits set, the same in every list.
FLAT = np.zeros(PDQ_BYTES, dtype=np.uint8)
FLAT[:3] = (0x80, 0x01, 0x10)
_VIEW_CYCLE = (View.FULL, View.ACTIVE, View.REGION, View.DIHEDRAL)


def flipped(
    hashes: npt.NDArray[np.uint8], bits: npt.NDArray[np.int64], rng: np.random.Generator
) -> npt.NDArray[np.uint8]:
    """Each row with `bits[i]` distinct random bits flipped."""
    out = np.unpackbits(np.atleast_2d(hashes), axis=1)
    for row, count in enumerate(bits):
        out[row, rng.choice(out.shape[1], size=int(count), replace=False)] ^= 1
    return np.packbits(out, axis=1)


def clustered_reference(rng: np.random.Generator, rows: int = 60) -> VideoHashes:
    """One reference: a few shots, each a centre whose frames lie 0-48 bits from it, with black
    and flat frames between them; every frame in two views (full and another)."""
    frames = rows // 2
    shots = rng.integers(2, 5)
    centres = rng.integers(0, 256, size=(shots, PDQ_BYTES), dtype=np.uint8)
    shot_of_frame = np.sort(rng.integers(0, shots, size=frames))
    hashes = flipped(centres[shot_of_frame], rng.integers(0, 49, size=frames), rng)
    qualities = rng.integers(30, 101, size=frames).astype(np.int16)
    special = rng.random(frames)
    hashes[special < 0.1] = BLACK
    hashes[(special >= 0.1) & (special < 0.2)] = FLAT
    qualities[special < 0.2] = 0
    times = np.arange(frames, dtype=np.float64) * 0.5
    other = [_VIEW_CYCLE[1 + i % 3] for i in range(frames)]
    derived = flipped(hashes, rng.integers(0, 20, size=frames), rng)
    return VideoHashes(
        hashes=np.concatenate([hashes, derived]).reshape(-1, PDQ_BYTES)[_interleave(frames)],
        timestamps=np.repeat(times, 2),
        qualities=np.repeat(qualities, 2),
        views=tuple(v for i in range(frames) for v in (View.FULL, other[i])),
        duration_seconds=frames * 0.5,
        frame_count=frames,
    )


def _interleave(frames: int) -> npt.NDArray[np.int64]:
    """Row order full0, derived0, full1, derived1, ... over [full..., derived...]."""
    return np.stack([np.arange(frames), frames + np.arange(frames)], axis=1).ravel()


def queries_near(
    references: list[VideoHashes], rng: np.random.Generator, count: int = 80
) -> npt.NDArray[np.uint8]:
    """Query hashes 0-56 bits from random reference rows, plus black, flat and random ones."""
    rows = np.concatenate([r.hashes for r in references])
    picked = rows[rng.integers(0, len(rows), size=count)]
    near = flipped(picked, rng.integers(0, 57, size=count), rng)
    noise = rng.integers(0, 256, size=(4, PDQ_BYTES), dtype=np.uint8)
    return np.concatenate([near, BLACK[None], FLAT[None], noise]).astype(np.uint8)


def oracle(
    live: dict[str, VideoHashes],
    queries: npt.NDArray[np.uint8],
    max_distance: int,
    *,
    whole_pictures: bool = False,
    min_quality: int = 0,
) -> Counter[Pair]:
    """Every (query row, entry) pair within the radius, by brute-force popcount."""
    found: Counter[Pair] = Counter()
    for reference_id, hashes in live.items():
        keep = hashes.qualities >= min_quality
        if whole_pictures:
            keep &= np.array([hashes.view_of(i) in WHOLE_PICTURE_VIEWS for i in range(len(hashes))])
        rows = np.flatnonzero(keep)
        if len(rows) == 0:
            continue
        xor = queries[:, None, :] ^ hashes.hashes[rows][None, :, :]
        distances = np.unpackbits(xor, axis=2).sum(axis=2)
        for q, r in zip(*np.nonzero(distances <= max_distance), strict=True):
            row = rows[r]
            found[
                (
                    int(q),
                    reference_id,
                    float(hashes.timestamps[row]),
                    int(hashes.qualities[row]),
                    int(distances[q, r]),
                )
            ] += 1
    return found


def answers(
    index: HashIndex,
    queries: npt.NDArray[np.uint8],
    max_distance: int,
    *,
    whole_pictures: bool = False,
    candidates: tuple[str, ...] = (),
    retrieve: bool = True,
) -> Counter[Pair]:
    found = index.search(
        queries, max_distance, whole_pictures=whole_pictures, candidates=candidates,
        retrieve=retrieve,
    )  # fmt: skip
    return Counter(
        (int(q), found.reference_ids[int(ref)], float(t), int(quality), int(d))
        for q, ref, t, quality, d in zip(
            found.query_rows,
            found.references,
            found.reference_times,
            found.reference_qualities,
            found.distances,
            strict=True,
        )
    )


class HashIndexContract:
    """Subclass with `make_index`; `radii` are the search radii the index must answer
    exactly (every `HashIndex` must at least answer up to 48 bits)."""

    radii: tuple[int, ...] = (0, 16, 32, 48)

    def make_index(self) -> HashIndex:
        raise NotImplementedError

    def freeze(self, index: HashIndex) -> FrozenIndex:
        """`index.freeze()` (every index the service serves with can be saved)."""
        raise NotImplementedError

    def open_saved(self, directory: Path) -> HashIndex:
        """The index saved in `directory`, opened as the service opens it."""
        raise NotImplementedError

    @pytest.fixture
    def rng(self) -> np.random.Generator:
        return np.random.default_rng(20261207)

    def _filled(
        self, rng: np.random.Generator, count: int = 12
    ) -> tuple[HashIndex, dict[str, VideoHashes]]:
        index = self.make_index()
        live = {f"ref-{i:03d}": clustered_reference(rng) for i in range(count)}
        for reference_id, hashes in live.items():
            index.add(reference_id, hashes)
        return index, live

    def test_search_equals_the_popcount_oracle_at_every_radius(
        self, rng: np.random.Generator
    ) -> None:
        index, live = self._filled(rng)
        queries = queries_near(list(live.values()), rng)
        for radius in self.radii:
            assert answers(index, queries, radius) == oracle(live, queries, radius), radius

    def test_naming_candidates_neither_drops_nor_repeats_a_pair(
        self, rng: np.random.Generator
    ) -> None:
        index, live = self._filled(rng)
        queries = queries_near(list(live.values()), rng)
        named = (*sorted(live)[:3], "never-added")
        for radius in self.radii:
            found = answers(index, queries, radius, candidates=named)
            assert found == oracle(live, queries, radius), radius

    def test_without_retrieval_a_search_answers_for_the_named_references_alone(
        self, rng: np.random.Generator
    ) -> None:
        index, live = self._filled(rng)
        queries = queries_near(list(live.values()), rng)
        named = sorted(live)[2:5]
        index.add("late", late := clustered_reference(rng))  # not yet in any table
        named_live = {name: live[name] for name in named} | {"late": late}
        for radius in self.radii:
            for whole in (False, True):
                named_too = (*named, "late", "never-added")
                found = answers(index, queries, radius, whole_pictures=whole,
                                candidates=named_too, retrieve=False)  # fmt: skip
                expected = oracle(named_live, queries, radius, whole_pictures=whole)
                assert found == expected, (radius, whole)
        assert answers(index, queries, self.radii[-1], retrieve=False) == Counter()

    def test_whole_pictures_search_sees_only_whole_picture_rows(
        self, rng: np.random.Generator
    ) -> None:
        index, live = self._filled(rng)
        queries = queries_near(list(live.values()), rng)
        radius = self.radii[-1]
        expected = oracle(live, queries, radius, whole_pictures=True)
        assert expected
        assert answers(index, queries, radius, whole_pictures=True) == expected

    def test_min_quality_leaves_out_low_quality_rows(self, rng: np.random.Generator) -> None:
        index = self.make_index()
        hashes = clustered_reference(rng)
        index.add("only", hashes, min_quality=25)
        assert len(index) == int((hashes.qualities >= 25).sum())
        expected = oracle({"only": hashes}, hashes.hashes, 0, min_quality=25)
        assert answers(index, hashes.hashes, 0) == expected

    def test_black_and_flat_frames_shared_by_every_reference_are_found_in_each(
        self, rng: np.random.Generator
    ) -> None:
        index, live = self._filled(rng)
        found = answers(index, np.stack([BLACK, FLAT]), 0)
        expected = oracle(live, np.stack([BLACK, FLAT]), 0)
        assert found == expected
        assert len({pair[1] for pair in found}) == len(live)

    def test_add_under_a_known_id_replaces_the_reference(self, rng: np.random.Generator) -> None:
        index, live = self._filled(rng, count=3)
        old = live["ref-001"]
        live["ref-001"] = clustered_reference(rng)
        index.add("ref-001", live["ref-001"])
        assert len(index) == sum(len(h) for h in live.values())
        assert answers(index, old.hashes, 0) == oracle(live, old.hashes, 0)
        assert index.info("ref-001").frame_count == live["ref-001"].frame_count

    def test_removed_reference_is_never_found_and_unknown_ids_are_ignored(
        self, rng: np.random.Generator
    ) -> None:
        index, live = self._filled(rng, count=4)
        gone = live.pop("ref-002")
        index.remove("ref-002")
        index.remove("never-added")
        assert "ref-002" not in index
        assert index.reference_ids() == sorted(live)
        assert len(index) == sum(len(h) for h in live.values())
        assert answers(index, gone.hashes, self.radii[-1]) == oracle(
            live, gone.hashes, self.radii[-1]
        )
        with pytest.raises(HashError, match="ref-002"):
            index.info("ref-002")

    def test_re_added_reference_is_found_again_under_its_id(self, rng: np.random.Generator) -> None:
        index, live = self._filled(rng, count=4)
        index.remove("ref-000")
        index.add("ref-000", live["ref-000"])
        queries = queries_near(list(live.values()), rng)
        assert answers(index, queries, 32) == oracle(live, queries, 32)

    def test_ids_are_never_confused_after_removals(self, rng: np.random.Generator) -> None:
        index, live = self._filled(rng, count=30)
        # Remove most, add new ones, re-add some: every pair must still name its own reference.
        for number in range(0, 30, 3):
            index.remove(f"ref-{number:03d}")
            del live[f"ref-{number:03d}"]
        for number in range(30, 45):
            live[f"ref-{number:03d}"] = clustered_reference(rng)
            index.add(f"ref-{number:03d}", live[f"ref-{number:03d}"])
        for number in range(0, 30, 6):
            live[f"ref-{number:03d}"] = clustered_reference(rng)
            index.add(f"ref-{number:03d}", live[f"ref-{number:03d}"])
        queries = np.concatenate([h.hashes for h in live.values()])
        assert answers(index, queries, 0) == oracle(live, queries, 0)
        for reference_id, hashes in live.items():
            assert index.info(reference_id).frame_count == hashes.frame_count
        assert index.reference_ids() == sorted(live)

    def test_memory_after_churn_stays_within_a_tenth_of_a_fresh_build(
        self, rng: np.random.Generator
    ) -> None:
        references = {f"ref-{i:03d}": clustered_reference(rng, rows=100) for i in range(40)}
        fresh = self.make_index()
        for reference_id, hashes in references.items():
            fresh.add(reference_id, hashes)
        churned = self.make_index()
        for reference_id, hashes in references.items():
            churned.add(reference_id, hashes)
        names = list(references)
        for cycle in range(1000):
            name = names[int(rng.integers(0, len(names)))]
            churned.remove(name)
            if cycle % 2:
                # Half the cycles bring the reference back under a new name.
                hashes = references.pop(name)
                name = f"{name}-{cycle}"
                names[names.index(name.rsplit("-", 1)[0])] = name
                references[name] = hashes
            churned.add(name, references[name])
        assert churned.memory_bytes() <= 1.1 * fresh.memory_bytes()
        queries = queries_near(list(references.values()), rng)
        assert answers(churned, queries, 32) == oracle(references, queries, 32)

    def test_empty_index_and_empty_queries_find_nothing(self, rng: np.random.Generator) -> None:
        index = self.make_index()
        assert len(index.search(np.zeros((3, PDQ_BYTES), dtype=np.uint8), 48)) == 0
        index.add("one", clustered_reference(rng))
        assert len(index.search(np.zeros((0, PDQ_BYTES), dtype=np.uint8), 48)) == 0

    def test_malformed_queries_and_empty_ids_are_refused(self, rng: np.random.Generator) -> None:
        index = self.make_index()
        index.add("one", clustered_reference(rng))
        with pytest.raises(HashError, match="shape"):
            index.search(np.zeros((2, 16), dtype=np.uint8), 8)
        with pytest.raises(HashError, match="non-empty"):
            index.add("", clustered_reference(rng))

    def test_a_frozen_index_is_saved_as_it_was_and_reopens_with_the_same_answers(
        self, rng: np.random.Generator, tmp_path: Path
    ) -> None:
        index, live = self._filled(rng)
        for name in ("ref-000", "ref-004"):
            index.remove(name)
            del live[name]
        live["late"] = clustered_reference(rng)
        index.add("late", live["late"])
        frozen = self.freeze(index)
        # Changes after the freeze are not in the files.
        index.remove("ref-001")
        index.add("later", clustered_reference(rng))
        frozen.write(tmp_path / "index")
        opened = self.open_saved(tmp_path / "index")
        assert opened.reference_ids() == sorted(live)
        assert len(opened) == sum(len(h) for h in live.values())
        assert opened.info("late").frame_count == live["late"].frame_count
        assert np.array_equal(
            opened.info("late").full_frame_qualities, live["late"].full_frame().qualities
        )
        queries = queries_near(list(live.values()), rng)
        for radius in self.radii:
            assert answers(opened, queries, radius) == oracle(live, queries, radius)
        whole = oracle(live, queries, 32, whole_pictures=True)
        assert answers(opened, queries, 32, whole_pictures=True) == whole
        # The opened index changes like any other.
        opened.remove("ref-002")
        del live["ref-002"]
        live["new"] = clustered_reference(rng)
        opened.add("new", live["new"])
        assert answers(opened, queries, 32) == oracle(live, queries, 32)

    def test_an_empty_index_is_saved_and_reopened_empty(self, tmp_path: Path) -> None:
        self.freeze(self.make_index()).write(tmp_path / "index")
        opened = self.open_saved(tmp_path / "index")
        assert len(opened) == 0 and opened.reference_ids() == []

    def test_files_cut_short_are_refused(self, rng: np.random.Generator, tmp_path: Path) -> None:
        index, _ = self._filled(rng, count=3)
        self.freeze(index).write(tmp_path / "index")
        codes = tmp_path / "index" / "codes.npy"
        codes.write_bytes(codes.read_bytes()[:-100])
        with pytest.raises(HashError, match="cannot open the index"):
            self.open_saved(tmp_path / "index")
