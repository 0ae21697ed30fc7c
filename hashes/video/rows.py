"""Hash rows: grids hashed into rows, and rows assembled into the `VideoHashes` of a video."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from hashes import pdq
from hashes.types import PDQ_BYTES, HashArray, HashError, VideoHashes, View


@dataclass(frozen=True, slots=True)
class GridRow:
    """One row to hash: the 64x64 grid of one view of the frame at `timestamp`."""

    grid: npt.NDArray[np.float32]
    timestamp: float
    view: View


@dataclass(frozen=True, eq=False)
class HashedRows:
    """Rows hashed together, in the order they were hashed: per row a hash, its quality, the
    time of its frame and its view."""

    hashes: HashArray
    qualities: npt.NDArray[np.int16]
    timestamps: npt.NDArray[np.float64]
    views: tuple[View, ...]

    def __post_init__(self) -> None:
        counts = {len(self.hashes), len(self.qualities), len(self.timestamps), len(self.views)}
        if len(counts) != 1:
            raise HashError("hashed rows need one quality, timestamp and view per hash")

    @classmethod
    def of_video(cls, hashes: VideoHashes) -> HashedRows:
        """The rows of `hashes`, to assemble with more."""
        views = hashes.views or (View.FULL,) * len(hashes)
        return cls(hashes.hashes, hashes.qualities, hashes.timestamps, views)


def hash_rows(rows: Sequence[GridRow]) -> HashedRows:
    """`rows` hashed in one batch."""
    hashes, qualities = pdq.hash_grids(np.stack([row.grid for row in rows]))
    return HashedRows(hashes, qualities, _timestamps(rows), tuple(row.view for row in rows))


def dct_rows(
    rows: Sequence[GridRow],
) -> tuple[HashedRows, npt.NDArray[np.float32]]:
    """`rows` hashed in one batch, and the DCT coefficients their hashes were cut from (which
    give the hashes of the dihedral variants, `pdq.dihedral_dct`)."""
    grids = np.stack([row.grid for row in rows])
    coefficients = pdq.dct_16(grids)
    hashed = HashedRows(
        pdq.bits_from_dct(coefficients),
        pdq.quality_of(grids),
        _timestamps(rows),
        tuple(row.view for row in rows),
    )
    return hashed, coefficients


def _timestamps(rows: Sequence[GridRow]) -> npt.NDArray[np.float64]:
    return np.asarray([row.timestamp for row in rows], dtype=np.float64)


def video_hashes(
    parts: Iterable[HashedRows], *, duration_seconds: float, frame_count: int
) -> VideoHashes:
    """The rows of `parts` as one `VideoHashes`, sorted by time (rows of one time keep the
    order they were hashed in); no views when every row is full-frame."""
    parts = list(parts)
    if parts:
        hashes = np.concatenate([part.hashes for part in parts])
        qualities = np.concatenate([part.qualities for part in parts])
        timestamps = np.concatenate([part.timestamps for part in parts])
    else:
        hashes = np.zeros((0, PDQ_BYTES), dtype=np.uint8)
        qualities = np.zeros(0, dtype=np.int16)
        timestamps = np.zeros(0, dtype=np.float64)
    every_view = [view for part in parts for view in part.views]
    order = np.argsort(timestamps, kind="stable")
    views = tuple(every_view[i] for i in order)
    all_full = all(v is View.FULL for v in views)
    return VideoHashes(
        hashes=np.ascontiguousarray(hashes[order]),
        timestamps=timestamps[order],
        qualities=qualities[order],
        views=() if all_full else views,
        duration_seconds=duration_seconds,
        frame_count=frame_count,
    )
