"""Hash rows (`hashes.video.rows`): grids hashed in a batch, batches assembled by time."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from hashes import pdq
from hashes.types import HashError, View
from hashes.video.rows import GridRow, HashedRows, dct_rows, hash_rows, video_hashes


def _grid(seed: int) -> npt.NDArray[np.float32]:
    return np.random.default_rng(seed).random((pdq.GRID, pdq.GRID), dtype=np.float32)


def test_a_batch_holds_each_rows_hash_quality_time_and_view_in_order() -> None:
    rows = [GridRow(_grid(1), 0.5, View.FULL), GridRow(_grid(2), 0.0, View.REGION)]
    batch = hash_rows(rows)
    hashes, qualities = pdq.hash_grids(np.stack([_grid(1), _grid(2)]))
    assert np.array_equal(batch.hashes, hashes)
    assert np.array_equal(batch.qualities, qualities)
    assert batch.timestamps.tolist() == [0.5, 0.0]
    assert batch.views == (View.FULL, View.REGION)


def test_rows_hashed_from_their_coefficients_are_the_same_rows() -> None:
    rows = [GridRow(_grid(3), 0.0, View.FULL), GridRow(_grid(4), 0.0, View.ACTIVE)]
    batch, coefficients = dct_rows(rows)
    same = hash_rows(rows)
    assert np.array_equal(batch.hashes, same.hashes)
    assert np.array_equal(batch.qualities, same.qualities)
    assert np.array_equal(pdq.bits_from_dct(coefficients), same.hashes)


def test_batches_are_sorted_by_time_keeping_the_order_rows_were_hashed_in() -> None:
    first = hash_rows([GridRow(_grid(1), 1.0, View.FULL), GridRow(_grid(2), 1.0, View.TILT)])
    later = hash_rows([GridRow(_grid(3), 0.0, View.FULL), GridRow(_grid(4), 1.0, View.ZOOM)])
    built = video_hashes([first, later], duration_seconds=2.0, frame_count=2)
    assert built.timestamps.tolist() == [0.0, 1.0, 1.0, 1.0]
    assert built.views == (View.FULL, View.FULL, View.TILT, View.ZOOM)
    assert np.array_equal(built.hashes[0], later.hashes[0])
    assert (built.duration_seconds, built.frame_count) == (2.0, 2)


def test_full_frame_rows_alone_need_no_views() -> None:
    built = video_hashes(
        [hash_rows([GridRow(_grid(1), 0.0, View.FULL)])], duration_seconds=1.0, frame_count=1
    )
    assert built.views == ()


def test_no_batches_make_empty_hashes() -> None:
    built = video_hashes([], duration_seconds=0.0, frame_count=0)
    assert len(built) == 0 and built.hashes.shape == (0, 32)


def test_the_rows_of_video_hashes_assemble_with_more() -> None:
    full = video_hashes(
        [hash_rows([GridRow(_grid(1), 0.0, View.FULL), GridRow(_grid(2), 0.5, View.FULL)])],
        duration_seconds=1.0,
        frame_count=2,
    )
    zoomed = hash_rows([GridRow(_grid(3), 0.0, View.ZOOM)])
    built = video_hashes([HashedRows.of_video(full), zoomed], duration_seconds=1.0, frame_count=2)
    assert built.views == (View.FULL, View.ZOOM, View.FULL)


def test_a_batch_needs_one_quality_time_and_view_per_hash() -> None:
    batch = hash_rows([GridRow(_grid(1), 0.0, View.FULL)])
    with pytest.raises(HashError, match="one quality, timestamp and view per hash"):
        HashedRows(batch.hashes, batch.qualities, batch.timestamps, ())
