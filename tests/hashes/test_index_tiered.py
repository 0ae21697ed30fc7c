"""The tiered index (`tiered_index`): a flat scan of a sample of the rows finds the candidate
references, every row of which is then searched exactly. Keeping every row it passes the index
contract; with the sample, its answers are every pair of each retrieved reference, and the
matcher's verdicts equal the exact index's on a seeded list."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from hashes.index import ExactIndex, FrozenIndex, HashIndex
from hashes.index_multihash import (
    TIERED_RETRIEVAL_BITS,
    MultiHashIndex,
    open_tiered_index,
    tiered_index,
)
from hashes.matcher import Matcher
from hashes.retrieval_rows import EVERY_ROW, SAMPLED_ROWS, RetrievalRows, centred_crop_places
from hashes.types import PDQ_BYTES, HashError, VideoHashes, View
from tests.hashes.index_contract import (
    HashIndexContract,
    Pair,
    answers,
    clustered_reference,
    flipped,
    oracle,
    queries_near,
)


class TestTieredIndexKeepingEveryRow(HashIndexContract):
    radii = (0, 16, 32, 48)

    def make_index(self) -> HashIndex:
        return MultiHashIndex(retrieval_rows=EVERY_ROW, flat_bits=48)

    def freeze(self, index: HashIndex) -> FrozenIndex:
        assert isinstance(index, MultiHashIndex)
        return index.freeze()

    def open_saved(self, directory: Path) -> HashIndex:
        return MultiHashIndex.open(directory, retrieval_rows=EVERY_ROW, flat_bits=48)


def _retrieved(
    live: dict[str, VideoHashes], queries: npt.NDArray[np.uint8], *, whole: bool = False
) -> set[str]:
    """References with a sampled row within the retrieval radius of some query row."""
    sampled = {}
    for reference_id, hashes in live.items():
        keep = SAMPLED_ROWS.select(hashes)
        sampled[reference_id] = VideoHashes(
            hashes.hashes[keep], hashes.timestamps[keep], hashes.qualities[keep],
            tuple(hashes.view_of(int(i)) for i in np.flatnonzero(keep)),
            hashes.duration_seconds, hashes.frame_count,
        )  # fmt: skip
    near = oracle(sampled, queries, TIERED_RETRIEVAL_BITS, whole_pictures=whole)
    return {pair[1] for pair in near}


def _only(expected: Counter[Pair], references: set[str]) -> Counter[Pair]:
    return Counter({pair: n for pair, n in expected.items() if pair[1] in references})


@pytest.mark.parametrize("reopened", [False, True])
def test_every_pair_of_each_retrieved_reference_is_found_at_any_radius(
    reopened: bool, tmp_path: Path
) -> None:
    rng = np.random.default_rng(21)
    live = {f"ref-{i}": _reference(rng, seconds=30.0, fps=4.0, places=8) for i in range(10)}
    index = tiered_index()
    for reference_id, hashes in live.items():
        index.add(reference_id, hashes)
    index.rebuild()
    if reopened:
        index.save(tmp_path / "index")
        index = open_tiered_index(tmp_path / "index")
    # Rows near a few of the references.
    queries = queries_near(list(live.values())[:4], rng, count=30)[:30]
    for whole in (False, True):
        retrieved = _retrieved(live, queries, whole=whole)
        assert 0 < len(retrieved) < len(live)
        for radius in (16, 47, 76):
            found = answers(index, queries, radius, whole_pictures=whole)
            expected = oracle(live, queries, radius, whole_pictures=whole)
            assert found == _only(expected, retrieved), (radius, whole)
            assert found
    # References far from the queries add nothing, searched or not.
    far = {f"far-{i}": _reference(np.random.default_rng(100 + i), seconds=30.0, fps=4.0,
                                  places=8) for i in range(3)}  # fmt: skip
    for reference_id, hashes in far.items():
        index.add(reference_id, hashes)
    index.rebuild()
    assert _retrieved(far, queries) == set()
    retrieved = _retrieved(live, queries)
    assert answers(index, queries, 76) == _only(oracle(live, queries, 76), retrieved)


def test_a_reference_named_as_a_candidate_is_searched_whole_though_not_retrieved() -> None:
    rng = np.random.default_rng(22)
    live = {f"ref-{i}": _reference(rng, seconds=30.0, fps=4.0, places=8) for i in range(4)}
    index = tiered_index()
    for reference_id, hashes in live.items():
        index.add(reference_id, hashes)
    index.rebuild()
    # Rows 72 bits from some of ref-0's: beyond the retrieval radius of every sampled row.
    queries = flipped(live["ref-0"].hashes[::7][:20], np.full(20, 72), rng)
    assert _retrieved(live, queries) == set()
    assert answers(index, queries, 76) == Counter()
    named = answers(index, queries, 76, candidates=("ref-0",))
    assert named == _only(oracle(live, queries, 76), {"ref-0"}) and named
    # The same after the list changed (the named reference among the added ones).
    index.add("ref-0", live["ref-0"])
    assert answers(index, queries, 76, candidates=("ref-0",)) == named


def test_the_sample_keeps_each_slot_at_its_own_rate_whatever_the_frame_rate() -> None:
    places = 120  # about as many crops, strips, bands and reframed parts as a reference has
    reference = _reference(np.random.default_rng(3), seconds=64.0, fps=4.0, places=places)
    keep = SAMPLED_ROWS.select(reference)
    views = np.array([reference.view_of(int(i)) for i in range(len(reference))])
    times = reference.timestamps
    per_second = {
        view: int(np.count_nonzero(keep & (views == view))) / 64.0
        for view in (View.FULL, View.ACTIVE, View.REGION)
    }
    centred = len(centred_crop_places())
    assert per_second[View.FULL] == 1.0
    assert per_second[View.ACTIVE] == 2.0
    # Each other place once in 8 s: 8 periods in 64 s, or 9 where its stagger cuts one.
    others = places - centred
    assert centred + others * 8 / 64 <= per_second[View.REGION] <= centred + others * 9 / 64
    # Every derived place is kept at least once every 8 seconds, after the first frame each at
    # another second of the period.
    region_rows = np.flatnonzero(views == View.REGION)
    place = np.tile(np.arange(places), len(region_rows) // places)
    kept_times = [
        np.sort(times[region_rows[(place == p) & keep[region_rows]]]) for p in range(places)
    ]
    assert all(np.diff(np.r_[0.0, t, 64.0]).max() <= 8.0 + 0.25 for t in kept_times)
    assert len({float(t[1]) for t in kept_times}) == 8
    # A hash-only reference (full frames alone), at 4 or at 30 frames a second: 1 row/s.
    for fps in (4.0, 30.0):
        alone = _reference(np.random.default_rng(4), seconds=20.0, fps=fps, places=0)
        assert int(SAMPLED_ROWS.select(alone).sum()) == 20


def test_the_sample_is_chosen_among_the_rows_an_index_keeps() -> None:
    reference = _reference(np.random.default_rng(5), seconds=8.0, fps=4.0, places=4)
    among = np.ones(len(reference), dtype=bool)
    among[::12] = False  # every second full frame: low-quality rows the index leaves out
    keep = SAMPLED_ROWS.select(reference, among)
    assert not (keep & ~among).any()
    # Each full-frame second still has a row (the next one kept).
    full = np.array([reference.view_of(int(i)) is View.FULL for i in range(len(reference))])
    assert int((keep & full).sum()) == 8
    assert EVERY_ROW.select(reference, among).tolist() == among.tolist()


def test_a_saved_index_opens_only_with_the_sample_and_probe_it_was_built_with(
    tmp_path: Path,
) -> None:
    index = tiered_index()
    index.add("a", clustered_reference(np.random.default_rng(6)))
    index.save(tmp_path / "tiered")
    other = RetrievalRows(full_seconds=2.0)
    with pytest.raises(HashError, match=r"retrieval rows 'sampled:1,.*not 'sampled:2,"):
        MultiHashIndex.open(tmp_path / "tiered", retrieval_rows=other, flat_bits=47)
    with pytest.raises(HashError, match="holds a 'tiered' index, not 'multihash'"):
        MultiHashIndex.open(tmp_path / "tiered")
    MultiHashIndex().save(tmp_path / "multihash")
    with pytest.raises(HashError, match="holds a 'multihash' index, not 'tiered'"):
        open_tiered_index(tmp_path / "multihash")
    assert open_tiered_index(tmp_path / "tiered").reference_ids() == ["a"]


def test_the_matcher_finds_the_same_matches_as_with_the_exact_index() -> None:
    rng = np.random.default_rng(7)
    references = {
        f"ref-{i}": _reference(rng, seconds=float(rng.integers(20, 60)), fps=4.0, places=30)
        for i in range(12)
    }
    exact, tiered = ExactIndex(), tiered_index()
    for reference_id, hashes in references.items():
        exact.add(reference_id, hashes)
        tiered.add(reference_id, hashes)
    tiered.rebuild()
    queries = [_copy(references[f"ref-{i}"], rng, bits) for i, bits in enumerate((8, 24, 40, 44))]
    queries += [_copy(references["ref-5"], rng, 16, derived_only=True)]
    queries += [_reference(np.random.default_rng(99), seconds=10.0, fps=4.0, places=0)]
    confirmed = 0
    for query in queries:
        expected = Matcher(exact).match(query)
        assert Matcher(tiered).match(query) == expected
        confirmed += bool(expected and expected[0].score >= 1.0)
    assert confirmed >= 4


def test_a_reference_a_later_stage_finds_gets_the_pairs_of_the_rows_searched_before() -> None:
    """A cropped copy: its full frames lie beyond the retrieval radius of every sampled row,
    its crop view close to one of the reference's crops. The exact index pairs the full
    frames too; the tiered index, retrieving the reference on the crop view, searches the
    full frames again for it alone."""
    rng = np.random.default_rng(8)
    reference = _reference(rng, seconds=20.0, fps=4.0, places=30)
    exact, tiered = ExactIndex(), tiered_index()
    exact.add("ref", reference)
    tiered.add("ref", reference)
    tiered.rebuild()
    region = np.array([reference.view_of(i) is View.REGION for i in range(len(reference))])
    full = np.array([reference.view_of(i) is View.FULL for i in range(len(reference))])
    # 10 s of full frames; the crop view shows in the last 5 s only.
    full_rows = np.flatnonzero(full)[8:48]
    crop_rows = np.flatnonzero(region)[7::30][28:48]
    hashes = np.concatenate(
        [flipped(reference.hashes[full_rows], np.full(40, 70), rng),
         flipped(reference.hashes[crop_rows], np.full(20, 12), rng)]
    )  # fmt: skip
    times = np.r_[np.arange(40) * 0.25, 5.0 + np.arange(20) * 0.25]
    order = np.argsort(times, kind="stable")
    query = VideoHashes(
        hashes=hashes[order], timestamps=times[order],
        qualities=np.full(60, 80, dtype=np.int16),
        views=tuple(([View.FULL] * 40 + [View.REGION] * 20)[i] for i in order),
        duration_seconds=10.0, frame_count=40,
    )  # fmt: skip
    assert answers(tiered, hashes[:40], 76) == Counter()  # the full frames retrieve nothing
    expected = Matcher(exact).match(query)
    assert expected and "full" in expected[0].views
    assert Matcher(tiered).match(query) == expected


def _reference(rng: np.random.Generator, *, seconds: float, fps: float, places: int) -> VideoHashes:
    """Rows laid out as the reference hasher writes them: per sampled frame the full frame,
    then (with `places`) the picture inside its borders and `places` derived rows; frames
    drift a few bits from one to the next, with a cut now and then."""
    frames = int(seconds * fps)
    full = np.empty((frames, PDQ_BYTES), dtype=np.uint8)
    current = rng.integers(0, 256, PDQ_BYTES, dtype=np.uint8)
    for f in range(frames):
        if rng.random() < 0.02:
            current = rng.integers(0, 256, PDQ_BYTES, dtype=np.uint8)
        current = flipped(current, np.array([rng.integers(2, 10)]), rng)[0]
        full[f] = current
    per_frame = 1 + (1 + places if places else 0)
    hashes = np.empty((frames * per_frame, PDQ_BYTES), dtype=np.uint8)
    views: list[View] = []
    for f in range(frames):
        base = f * per_frame
        hashes[base] = full[f]
        views.append(View.FULL)
        if places:
            # Each derived row a picture of its own: far from the full frame and each other.
            derived = rng.integers(0, 256, size=(1 + places, PDQ_BYTES), dtype=np.uint8)
            hashes[base + 1 : base + per_frame] = derived
            views += [View.ACTIVE] + [View.REGION] * places
    times = np.repeat(np.arange(frames) / fps, per_frame)
    return VideoHashes(
        hashes=hashes,
        timestamps=times,
        qualities=np.full(len(hashes), 80, dtype=np.int16),
        views=tuple(views) if places else (),
        duration_seconds=seconds,
        frame_count=frames,
    )


def _copy(
    reference: VideoHashes, rng: np.random.Generator, bits: int, *, derived_only: bool = False
) -> VideoHashes:
    """A query copying 10 s of the reference's full frames (or of one derived place, as a
    cropped copy shows it), each `bits` bits off."""
    full = np.array([reference.view_of(i) is View.FULL for i in range(len(reference))])
    rows = np.flatnonzero(full)
    if derived_only:
        region = np.array([reference.view_of(i) is View.REGION for i in range(len(reference))])
        rows = np.flatnonzero(region)[7::30]  # one place, every frame
    start = int(rng.integers(0, max(1, len(rows) - 40)))
    rows = rows[start : start + 40]
    hashes = flipped(reference.hashes[rows], np.full(len(rows), bits), rng)
    times = reference.timestamps[rows] - reference.timestamps[rows[0]]
    return VideoHashes(
        hashes=hashes,
        timestamps=times,
        qualities=np.full(len(rows), 80, dtype=np.int16),
        duration_seconds=10.0,
        frame_count=len(rows),
    )
