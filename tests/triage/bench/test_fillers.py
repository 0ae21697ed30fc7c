"""Filler references: seeded, in their stated shares, shaped like the planted references."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from hashes.index import ExactIndex
from hashes.types import PDQ_BYTES, VideoHashes, View
from triage.bench.fillers import (
    NEAR_BITS,
    NEAR_SECONDS,
    Filler,
    FillerError,
    FillerGenerator,
    FillerMix,
    FillerShape,
)

FPS = 25.0
DERIVED_VIEWS = (View.ACTIVE, View.REGION, View.REGION, View.REGION)


def planted_reference(seed: int, seconds: float = 20.0) -> VideoHashes:
    """A reference laid out as `hash_reference` lays one out: a full row on every frame, the
    derived views on every second frame."""
    rng = np.random.default_rng(seed)
    frames = int(seconds * FPS)
    times: list[float] = []
    views: list[View] = []
    for frame in range(frames):
        extra = DERIVED_VIEWS if frame % 2 == 0 else ()
        times += [frame / FPS] * (1 + len(extra))
        views += [View.FULL, *extra]
    return VideoHashes(
        hashes=rng.integers(0, 256, size=(len(times), PDQ_BYTES), dtype=np.uint8),
        timestamps=np.array(times),
        qualities=rng.integers(40, 101, size=len(times)).astype(np.int16),
        views=tuple(views),
        duration_seconds=seconds,
        frame_count=frames,
    )


def distances(a: npt.NDArray[np.uint8], b: npt.NDArray[np.uint8]) -> npt.NDArray[np.int64]:
    return np.asarray(np.unpackbits(a ^ b, axis=-1).sum(axis=-1, dtype=np.int64))


@pytest.fixture(scope="module")
def planted() -> list[VideoHashes]:
    return [planted_reference(1), planted_reference(2, seconds=12.0)]


@pytest.fixture(scope="module")
def shape(planted: list[VideoHashes]) -> FillerShape:
    return FillerShape.of(planted, derived_every=2)


@pytest.fixture(scope="module")
def fillers(planted: list[VideoHashes], shape: FillerShape) -> tuple[FillerGenerator, list[Filler]]:
    generator = FillerGenerator(planted, shape, seed=5)
    return generator, list(generator.videos(0.25))


def test_shape_is_read_from_the_planted_references(shape: FillerShape) -> None:
    assert shape.frames_per_second == pytest.approx(FPS)
    assert shape.derived_views == DERIVED_VIEWS
    assert shape.rows_per_second == pytest.approx(FPS * (1 + len(DERIVED_VIEWS) / 2))


def test_frames_by_kind_keep_the_stated_shares(
    fillers: tuple[FillerGenerator, list[Filler]],
) -> None:
    generator, made = fillers
    shares = generator.counts.shares()
    mix = FillerMix()
    assert shares["family"] >= 0.20
    assert shares["family"] == pytest.approx(mix.family_share, abs=0.05)
    assert shares["masked"] == pytest.approx(mix.masked_share, abs=0.03)
    assert shares["near"] == pytest.approx(mix.near_share, abs=0.02)
    frames = sum(f.hashes.frame_count for f in made)
    assert frames == pytest.approx(0.25 * 3600 * FPS, rel=0.01)
    assert generator.counts.rows == sum(len(f.hashes) for f in made)


def test_walks_have_as_many_rows_a_second_as_the_planted_references(
    fillers: tuple[FillerGenerator, list[Filler]], shape: FillerShape
) -> None:
    walks = [f.hashes for f in fillers[1] if f.kind == "walk"]
    assert walks
    rows = sum(len(w) for w in walks)
    seconds = sum(w.duration_seconds for w in walks)
    assert rows / seconds == pytest.approx(shape.rows_per_second, rel=0.01)
    for walk in walks:
        assert np.all(np.diff(walk.timestamps) >= 0)
        assert walk.full_frame().frame_count == len(walk.full_frame())


def test_walks_step_as_far_as_real_footage_does_and_cut_to_new_shots(
    fillers: tuple[FillerGenerator, list[Filler]],
) -> None:
    walk = next(f.hashes for f in fillers[1] if f.kind == "walk").full_frame()
    steps = distances(walk.hashes[1:], walk.hashes[:-1])
    # Handheld footage at 30 fps: a median 14-24 bits from one frame to the next.
    assert 14 <= np.median(steps) <= 26
    # Frames a second apart within a shot stay related (unrelated hashes lie ~128 apart).
    assert np.median(distances(walk.hashes[25:], walk.hashes[:-25])) < 64
    # Cuts: a new shot lies as far from the last frame as unrelated hashes do.
    assert np.any(steps > 90)


def test_same_seed_makes_the_same_list_and_another_seed_another(
    planted: list[VideoHashes], shape: FillerShape
) -> None:
    def first_rows(seed: int) -> npt.NDArray[np.uint8]:
        return next(iter(FillerGenerator(planted, shape, seed=seed).videos(0.01))).hashes.hashes

    assert np.array_equal(first_rows(3), first_rows(3))
    assert not np.array_equal(first_rows(3), first_rows(4))


def test_near_sequences_follow_consecutive_planted_rows_32_to_48_bits_away(
    fillers: tuple[FillerGenerator, list[Filler]], planted: list[VideoHashes]
) -> None:
    near = [f.hashes for f in fillers[1] if f.kind == "near"]
    assert near
    for sequence in near:
        assert sequence.duration_seconds >= min(NEAR_SECONDS[0], 12.0)
        matched = False
        for source in planted:
            for start in range(len(source) - len(sequence) + 1):
                gaps = distances(sequence.hashes, source.hashes[start : start + len(sequence)])
                if gaps.min() >= NEAR_BITS[0] and gaps.max() <= NEAR_BITS[1]:
                    matched = True
                    break
            if matched:
                break
        assert matched


def test_masked_copies_keep_the_planted_structure_far_from_it(
    fillers: tuple[FillerGenerator, list[Filler]], planted: list[VideoHashes]
) -> None:
    masked = [f.hashes for f in fillers[1] if f.kind == "masked"]
    assert masked
    for copy in masked:
        source = next(p for p in planted if len(p) == len(copy))
        # One mask over every row: distances between rows are the planted ones.
        assert np.array_equal(
            distances(copy.hashes[1:], copy.hashes[:-1]),
            distances(source.hashes[1:], source.hashes[:-1]),
        )
        assert distances(copy.hashes, source.hashes).min() > 64


def test_family_frames_recur_across_videos(planted: list[VideoHashes], shape: FillerShape) -> None:
    short = FillerMix(video_seconds=(20.0, 40.0))
    made = FillerGenerator(planted, shape, short, seed=6).videos(0.5)
    walks = [f.hashes.full_frame() for f in made if f.kind == "walk"]
    assert len(walks) >= 8
    shared = []
    for number, walk in enumerate(walks):
        others = ExactIndex()
        for other_number, other in enumerate(walks):
            if other_number != number:
                others.add(str(other_number), other)
        found = others.search(walk.hashes, 12)
        shared.append(len(np.unique(found.query_rows)) / len(walk))
    # About a quarter of frames are family frames; the few in a video's family shots of a
    # card no other video showed are the exception.
    assert float(np.mean(shared)) >= 0.15


def test_shares_over_one_are_refused() -> None:
    with pytest.raises(FillerError, match="sum to at most 1"):
        FillerMix(family_share=0.6, masked_share=0.3, near_share=0.2)
    with pytest.raises(FillerError, match="at least one planted"):
        FillerShape.of([], derived_every=2)
