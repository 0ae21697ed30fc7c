"""A second frame signal, for the tests only: the 64-bit average hash.

Not shipped: it proves that `hashes.signal.FrameSignal` is the whole seam (the matcher, the
index and the hash arrays take a signal of another width and other distances unchanged).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import cv2
import numpy as np
import numpy.typing as npt

from hashes.signal import LumaImage, QualityArray
from hashes.types import FloatArray, HashArray

GRID = 8


class AverageHash:
    """One bit per cell of an 8x8 area-averaged grid: brighter than the grid's mean or not.
    Quality is the grid's standard deviation in grey levels, capped at 100."""

    hash_bits: ClassVar[int] = GRID * GRID
    match_distance: ClassVar[int] = 10
    near_distance: ClassVar[int] = 3
    min_quality: ClassVar[int] = 5

    def hash_frames(self, lumas: Sequence[LumaImage]) -> tuple[HashArray, QualityArray]:
        if not lumas:
            return np.zeros((0, GRID * GRID // 8), dtype=np.uint8), np.zeros(0, dtype=np.int16)
        size = (GRID, GRID)
        cells = [
            cv2.resize(np.asarray(luma, dtype=np.float32), size, interpolation=cv2.INTER_AREA)
            for luma in lumas
        ]
        grids = np.stack(cells).reshape(len(lumas), GRID * GRID)
        bits = grids > grids.mean(axis=1, keepdims=True)
        qualities = np.minimum(100.0, grids.std(axis=1)).astype(np.int16)
        return np.packbits(bits, axis=1), qualities

    def weigh(
        self,
        distances: npt.NDArray[np.int32],
        lower_qualities: QualityArray,
        higher_qualities: QualityArray,
        *,
        use_quality: bool,
    ) -> FloatArray:
        """Linear from 1 at `near_distance` to 0 at `match_distance`; a near-flat frame counts
        only when its hash is identical."""
        span = float(self.match_distance - self.near_distance)
        weights = np.clip((self.match_distance - distances) / span, 0.0, 1.0)
        if use_quality:
            flat = lower_qualities < self.min_quality
            weights[flat] = (distances[flat] == 0).astype(np.float64)
        return np.asarray(weights, dtype=np.float64)
