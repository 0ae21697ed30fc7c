"""Frame signals: how one kind of frame hash is made, compared and trusted.

A signal declares its metric as class attributes (the hash width, the distances that make a
pair a candidate and a sure match, the quality below which a frame is near-flat) and
implements two hooks: hashing frames (luminance in; packed hashes and a 0-100 quality out)
and weighing a matched pair (its Hamming distance and its two frames' qualities in; how much
the pair counts as evidence out). The matcher's temporal alignment and scoring, and the
index, work on any signal whose hashes are a whole number of bytes.

PDQ is the one signal shipped: its hashes are what industry hash lists exchange.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Protocol

import numpy as np
import numpy.typing as npt

from hashes import pdq
from hashes.types import PDQ_BITS, FloatArray, HashArray

QualityArray = npt.NDArray[np.int16]
"""Frame qualities, 0 (flat) to 100 (full of detail), one per hash."""

LumaImage = npt.NDArray[np.uint8] | npt.NDArray[np.float32]
"""A luminance image, shape (H, W)."""


class FrameSignal(Protocol):
    """How a signal hashes frames, compares two hashes and weighs a matched pair."""

    # Bits per hash, packed most significant bit first into `hash_bits // 8` bytes.
    hash_bits: ClassVar[int]
    # Pairs within this many bits are candidates (the search radius); a pair this far apart
    # counts for nothing.
    match_distance: ClassVar[int]
    # At or below this many bits, a pair of detailed frames counts fully.
    near_distance: ClassVar[int]
    # Frames below this quality are near-flat (walls, black, fades): they show little.
    min_quality: ClassVar[int]

    def hash_frames(self, lumas: Sequence[LumaImage]) -> tuple[HashArray, QualityArray]:
        """Packed hashes, shape (n, hash_bits // 8), and the quality of each frame."""
        ...

    def weigh(
        self,
        distances: npt.NDArray[np.int32],
        lower_qualities: QualityArray,
        higher_qualities: QualityArray,
        *,
        use_quality: bool,
    ) -> FloatArray:
        """How much each matched pair counts, 0 to 1, given its distance and the lower and the
        higher quality of its two frames; `use_quality` off weighs on distance alone."""
        ...


class PdqSignal:
    """Meta's PDQ: 256 bits from the signs of a 16x16 DCT about its median."""

    hash_bits: ClassVar[int] = PDQ_BITS
    match_distance: ClassVar[int] = 76
    near_distance: ClassVar[int] = 40
    min_quality: ClassVar[int] = 25
    # Flat, low-detail frames are near each other by chance: for them the distance at which a
    # pair stops counting shrinks towards `near_distance` (to a quarter of the span)...
    low_quality_at: ClassVar[int] = 40
    full_quality_at: ClassVar[int] = 80
    # ...and near-flat frames count only as near-identical pairs: chance does not bring two
    # hashes this close, while a re-encode of the same flat frame keeps most of its bits.
    flat_distance: ClassVar[int] = 16

    def hash_frames(self, lumas: Sequence[LumaImage]) -> tuple[HashArray, QualityArray]:
        return pdq.hash_lumas(lumas)

    def weigh(
        self,
        distances: npt.NDArray[np.int32],
        lower_qualities: QualityArray,
        higher_qualities: QualityArray,
        *,
        use_quality: bool,
    ) -> FloatArray:
        """1 up to `near_distance`, falling to 0 at `match_distance`, sooner for low-quality
        frames; near-flat frames count only when near-identical, and only to flat ones."""
        lower, higher = lower_qualities, higher_qualities
        span = np.full(len(distances), float(max(self.match_distance - self.near_distance, 1)))
        if use_quality:
            trust = (lower - self.low_quality_at) / max(
                self.full_quality_at - self.low_quality_at, 1
            )
            span *= np.clip(trust, 0.25, 1.0)
        weights = np.clip((self.near_distance + span - distances) / span, 0.0, 1.0)
        if use_quality:
            flat = lower < self.min_quality
            weights[flat] = (distances[flat] <= self.flat_distance).astype(np.float64)
            # A flat frame is a copy only of another flat frame: next to a detailed picture
            # its hash (the shading's) lies close by chance, as a plain wall crop does to a
            # test pattern's colour bar.
            weights[flat & (higher >= self.min_quality)] = 0.0
        return np.asarray(weights, dtype=np.float64)


PDQ = PdqSignal()
"""The signal the service, the bench and the hash-list formats use."""
