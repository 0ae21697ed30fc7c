"""Value types shared by every module of `hashes` (and by the service).

Hash arrays are packed PDQ hashes: ``uint8`` rows of 32 bytes, most significant bit first,
so ``bytes(row).hex()`` is the 64-digit hex string Meta's tools print.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import ClassVar

import numpy as np
import numpy.typing as npt

PDQ_BITS = 256
PDQ_BYTES = PDQ_BITS // 8

HashArray = npt.NDArray[np.uint8]
"""Packed hashes, shape (n, 32)."""

FloatArray = npt.NDArray[np.float64]


class HashError(Exception):
    """Root of every error raised by `hashes`; the message names the file and the problem."""


class MediaError(HashError):
    """A file that cannot be read as media: missing, not a video or image, truncated, corrupt."""

    reason: ClassVar[str] = "bad_media"
    """The short word a job that meets this error fails with."""


class PictureTooLargeError(MediaError):
    """More pixels in a picture than the pixel budget allows (declared in the header)."""

    reason: ClassVar[str] = "too_large_picture"


class MediaTooLongError(MediaError):
    """More seconds or frames than the budget allows (declared, or counted while decoding)."""

    reason: ClassVar[str] = "too_long"


class FormatError(HashError):
    """A hash file that does not follow its declared format."""


@dataclass(frozen=True, slots=True)
class PDQHash:
    """One 256-bit PDQ hash as a value: ``a - b`` is the Hamming distance, ``str`` is hex."""

    value: bytes

    def __post_init__(self) -> None:
        if len(self.value) != PDQ_BYTES:
            raise FormatError(f"a PDQ hash has {PDQ_BYTES} bytes, got {len(self.value)}")

    @classmethod
    def from_hex(cls, text: str) -> PDQHash:
        text = text.strip().lower()
        if len(text) != 2 * PDQ_BYTES:
            raise FormatError(f"a PDQ hash is 64 hex digits, got {len(text)}: {text[:70]!r}")
        try:
            return cls(bytes.fromhex(text))
        except ValueError as exc:
            raise FormatError(f"not a hex PDQ hash: {text!r}") from exc

    def __str__(self) -> str:
        return self.value.hex()

    def __sub__(self, other: PDQHash) -> int:
        return (
            int.from_bytes(self.value, "big")
            .__xor__(int.from_bytes(other.value, "big"))
            .bit_count()
        )


class View(StrEnum):
    """Which part of a frame a hash was computed from.

    References are hashed full-frame (that is what hash lists exchange). Queries are also
    hashed on derived views, so edits that change the geometry still meet the reference.
    """

    FULL = "full"
    ACTIVE = "active"  # inside black borders (letterbox, pillarbox, padding), if any
    INNER = "inner"  # the sharp picture over a blurred, zoomed copy of itself
    REGION = "region"  # a candidate sub-region: detected rectangle, half, centre crop
    # A dihedral variant (mirrored, or turned by quarter turns) of one of the views above;
    # stored as "flip", the name hash lists and evidence have carried from the start.
    DIHEDRAL = "flip"
    TILT = "tilt"  # the picture turned back a few degrees, as a filmed screen is turned
    SIDE = "side"  # a picture of a common shape flush with one side (a split screen's pane)
    ZOOM = "zoom"  # a part of the picture, zoomed into on a closer look (`ZOOM_SHARES`)


@dataclass(frozen=True, eq=False)
class VideoHashes:
    """Frame hashes of one video (or one image: a single frame at t=0).

    Rows are sorted by timestamp; several rows may share a timestamp when a frame was hashed
    in more than one view (`views` says which). Hashes are PDQ's 256 bits unless `hash_bits`
    says otherwise (another frame signal, `hashes.signal`).
    """

    hashes: HashArray
    timestamps: FloatArray
    qualities: npt.NDArray[np.int16]
    views: tuple[View, ...] = ()
    duration_seconds: float = 0.0
    frame_count: int = 0  # distinct sampled frames (not rows)
    hash_bits: int = PDQ_BITS
    # How the derived rows were made (`ReferenceParams.design`); "" when there are none, or
    # for query rows, whose views are the query side's business.
    view_design: str = ""

    def __post_init__(self) -> None:
        n = len(self.hashes)
        if self.hash_bits <= 0 or self.hash_bits % 8:
            raise FormatError(f"hash_bits must be a positive multiple of 8, got {self.hash_bits}")
        width = self.hash_bits // 8
        if self.hashes.ndim != 2 or self.hashes.shape[1] != width:
            raise FormatError(f"hashes must have shape (n, {width}), got {self.hashes.shape}")
        if len(self.timestamps) != n or len(self.qualities) != n:
            raise FormatError("hashes, timestamps and qualities must have the same length")
        if self.views and len(self.views) != n:
            raise FormatError("views must be empty (all full-frame) or one per row")

    def __len__(self) -> int:
        return len(self.hashes)

    def view_of(self, row: int) -> View:
        return self.views[row] if self.views else View.FULL

    def full_frame_rows(self) -> npt.NDArray[np.bool_]:
        """Which rows hash the whole frame (the others are derived views)."""
        if not self.views:
            return np.ones(len(self), dtype=bool)
        return np.array([v is View.FULL for v in self.views], dtype=bool)

    def made_with(self, design: str) -> bool:
        """Whether the derived rows, if there are any, were made with `design`."""
        return not self.views or self.view_design == design

    def full_frame(self) -> VideoHashes:
        """Only the full-frame rows: what is exported to other tools."""
        if not self.views:
            return self
        keep = self.full_frame_rows()
        return VideoHashes(
            hashes=self.hashes[keep],
            timestamps=self.timestamps[keep],
            qualities=self.qualities[keep],
            views=(),
            duration_seconds=self.duration_seconds,
            frame_count=self.frame_count,
            hash_bits=self.hash_bits,
        )


@dataclass(frozen=True, slots=True)
class Segment:
    """One aligned stretch: query [query_start, query_end] shows reference [reference_start,
    reference_end] (seconds). `score` is the strength of this stretch alone."""

    query_start: float
    query_end: float
    reference_start: float
    reference_end: float
    score: float
    matched_frames: int
    mean_distance: float


@dataclass(frozen=True, slots=True)
class VideoMatch:
    """How one reference appears in one query. Higher `score` is stronger."""

    reference_id: str
    score: float
    matched_seconds: float
    query_coverage: float
    reference_coverage: float
    segments: tuple[Segment, ...] = field(default=())
    speed: float = 1.0  # reference seconds per query second on the best segment
    views: tuple[str, ...] = field(default=())  # which query views matched
