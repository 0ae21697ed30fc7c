"""Filler references that make a bench-sized hash list industry-sized, generated in numpy.

A real list is mostly unrelated footage, but not random bits: shots drift a few bits a frame
and cut to new shots; black, fades, the same title cards, logos and flat walls recur in many
videos; re-encodes and edits of the same footage sit a few dozen bits from each other. The
generator makes each of these in stated shares of filler *frames* (`FillerMix`), with the row
layout of real hashed references (`FillerShape`: frames a second, and the derived views every
n-th frame), so the index holds as many rows per second of filler as per second of reference:

- walks: one random walk per view stream, drifting a bit a frame and jittering about ten
  around it (consecutive frames ~20 bits apart, as in real footage), cut every 1-8 s;
  a share of their shots are family shots (black, fades, title cards, logos, walls) drawn
  from one pool per list with Zipf odds (black most often), with re-encode noise, so the
  same cards recur across videos;
- masked copies: a planted reference with every row XOR-ed with one random mask, keeping
  its real structure (frame-to-frame distances, flat stretches) far from the reference;
- near sequences: 5-15 s of consecutive planted rows, in order, each 32-48 bits away: hard
  negatives that stay within the matcher's radius of a planted reference.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from hashes.types import PDQ_BITS, PDQ_BYTES, VideoHashes, View

# Family pool sizes: one black, fade steps, title cards, logos, flat walls.
FADE_STEPS = 8
TITLE_CARDS = 40
LOGOS = 24
WALLS = 16
# Shot lengths (seconds) of walks and family shots.
SHOT_SECONDS = (1.0, 8.0)
# Within a shot a hash drifts slowly (mean bits a frame, cumulative) and jitters around it
# (mean bits a frame, not cumulative): consecutive frames of handheld footage at 30 fps lie a
# median 14-24 bits apart in the shared vPDQ files, and frames seconds apart stay related.
DRIFT_BITS_PER_FRAME = 1.0
JITTER_BITS_PER_FRAME = 10.0
# Bits of re-encode noise on a family frame (its pool hash is otherwise the same everywhere).
FAMILY_NOISE_BITS = 4
NEAR_BITS = (32, 48)
NEAR_SECONDS = (5.0, 15.0)


class FillerError(ValueError):
    """A filler request that cannot be met (no planted references, a share out of range)."""


@dataclass(frozen=True, slots=True)
class FillerShape:
    """The row layout of a hashed reference: full frames at `frames_per_second`, and on every
    `derived_every`-th frame the `derived_views` rows (in order)."""

    frames_per_second: float
    derived_every: int
    derived_views: tuple[View, ...]
    view_design: str = ""  # the planted references' (`ReferenceParams.design`)

    @property
    def rows_per_second(self) -> float:
        return self.frames_per_second * (1 + len(self.derived_views) / self.derived_every)

    @classmethod
    def of(cls, references: Sequence[VideoHashes], derived_every: int) -> FillerShape:
        """The layout the planted references were hashed with (their median frame rate, and
        the views of their first derived frame)."""
        if not references:
            raise FillerError("fillers need at least one planted reference to copy the shape of")
        rates = [r.frame_count / max(r.duration_seconds, 1e-3) for r in references]
        first = references[0]
        times = first.timestamps
        same_time = np.flatnonzero(times == times[0])
        views = tuple(
            first.view_of(int(i)) for i in same_time if first.view_of(int(i)) != View.FULL
        )
        return cls(float(np.median(rates)), max(derived_every, 1), views, first.view_design)


@dataclass(frozen=True, slots=True)
class FillerMix:
    """Shares of filler frames by kind; walks take the rest."""

    family_share: float = 0.25
    masked_share: float = 0.10
    near_share: float = 0.05
    video_seconds: tuple[float, float] = (60.0, 300.0)

    def __post_init__(self) -> None:
        shares = (self.family_share, self.masked_share, self.near_share)
        if min(shares) < 0 or sum(shares) > 1:
            raise FillerError(f"filler shares must be >= 0 and sum to at most 1, got {shares}")


KINDS = ("walk", "family", "masked", "near")


@dataclass(slots=True)
class FillerCounts:
    """Frames generated per kind (the shares actually reached)."""

    frames: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    videos: int = 0
    rows: int = 0

    def shares(self) -> dict[str, float]:
        total = max(sum(self.frames.values()), 1)
        return {kind: round(count / total, 4) for kind, count in self.frames.items()}


@dataclass(frozen=True, slots=True)
class Filler:
    """One filler reference and its kind (`masked`, `near`, or `walk` with family shots)."""

    kind: str
    hashes: VideoHashes


class FillerGenerator:
    """Seeded filler references around `planted` (the real references of the list)."""

    def __init__(
        self,
        planted: Sequence[VideoHashes],
        shape: FillerShape,
        mix: FillerMix = FillerMix(),
        seed: int = 0,
    ) -> None:
        if not planted:
            raise FillerError("fillers need at least one planted reference")
        self._planted = list(planted)
        self._shape = shape
        self._mix = mix
        self._rng = np.random.default_rng(seed)
        self._streams = 1 + len(shape.derived_views)
        self._pool, self._pool_quality = self._family_pool()
        # Zipf odds: black most often, then fades, then the cards and walls a few videos share.
        odds = 1.0 / np.arange(1, len(self._pool) + 1)
        self._pool_odds = odds / odds.sum()
        self.counts = FillerCounts()

    def videos(self, hours: float) -> Iterator[Filler]:
        """Filler videos until `hours` of footage; each kind keeps to its share of frames."""
        target = hours * 3600.0 * self._shape.frames_per_second
        mix = self._mix
        walk_share = 1.0 - mix.masked_share - mix.near_share
        # Within walk videos, this share of shots are family shots.
        family_in_walks = min(1.0, mix.family_share / walk_share) if walk_share > 0 else 0.0
        made = self.counts.frames
        while sum(made.values()) < target:
            total = max(sum(made.values()), 1)
            if made["masked"] / total < mix.masked_share:
                filler = Filler("masked", self._masked())
            elif made["near"] / total < mix.near_share:
                filler = Filler("near", self._near())
            else:
                # The last walk ends where the list reaches its size.
                remaining = int(target) - sum(made.values())
                filler = Filler("walk", self._walk(family_in_walks, remaining))
            self.counts.videos += 1
            self.counts.rows += len(filler.hashes)
            yield filler

    # --- kinds -----------------------------------------------------------------------------

    def _walk(self, family_share: float, max_frames: int) -> VideoHashes:
        rng, shape = self._rng, self._shape
        seconds = rng.uniform(*self._mix.video_seconds)
        frames = max(1, min(int(seconds * shape.frames_per_second), max_frames))
        shot_frames = (np.asarray(SHOT_SECONDS) * shape.frames_per_second).astype(int)
        lengths = rng.integers(max(shot_frames[0], 1), max(shot_frames[1], 2), size=frames)
        starts = np.concatenate([[0], np.cumsum(lengths)])
        starts = starts[starts < frames]
        shot_of_frame = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, frames]))
        family_shot = rng.random(len(starts)) < family_share
        item_of_shot = rng.choice(len(self._pool), size=len(starts), p=self._pool_odds)
        hashes = np.empty((self._streams, frames, PDQ_BYTES), dtype=np.uint8)
        for stream in range(self._streams):
            drift = _sparse_masks(rng, frames, DRIFT_BITS_PER_FRAME)
            walked = np.bitwise_xor.accumulate(drift, axis=0)
            # Restart the walk at each cut: XOR away what accumulated before the shot began.
            before = np.zeros((len(starts), PDQ_BYTES), dtype=np.uint8)
            before[1:] = walked[starts[1:] - 1]
            bases = rng.integers(0, 256, size=(len(starts), PDQ_BYTES), dtype=np.uint8)
            jitter = _sparse_masks(rng, frames, JITTER_BITS_PER_FRAME)
            hashes[stream] = bases[shot_of_frame] ^ walked ^ before[shot_of_frame] ^ jitter
            noise = _sparse_masks(rng, frames, FAMILY_NOISE_BITS / 2)
            family = family_shot[shot_of_frame]
            items = item_of_shot[shot_of_frame][family]
            hashes[stream][family] = self._pool[items, stream] ^ noise[family]
        qualities = rng.integers(40, 101, size=frames).astype(np.int16)
        family = family_shot[shot_of_frame]
        qualities[family] = self._pool_quality[item_of_shot[shot_of_frame][family]]
        made = int(family.sum())
        self.counts.frames["family"] += made
        self.counts.frames["walk"] += frames - made
        return self._laid_out(hashes, qualities, frames)

    def _masked(self) -> VideoHashes:
        source = self._planted[int(self._rng.integers(0, len(self._planted)))]
        mask = self._rng.integers(0, 256, size=PDQ_BYTES, dtype=np.uint8)
        self.counts.frames["masked"] += source.frame_count
        return _with_hashes(source, source.hashes ^ mask)

    def _near(self) -> VideoHashes:
        rng = self._rng
        source = self._planted[int(rng.integers(0, len(self._planted)))]
        length = min(rng.uniform(*NEAR_SECONDS), source.duration_seconds)
        start = rng.uniform(0.0, max(source.duration_seconds - length, 0.0))
        keep = (source.timestamps >= start) & (source.timestamps < start + length)
        rows = np.flatnonzero(keep)
        bits = rng.integers(NEAR_BITS[0], NEAR_BITS[1] + 1, size=len(rows))
        hashes = _flipped(rng, source.hashes[rows], bits)
        frames = len(np.unique(source.timestamps[rows]))
        self.counts.frames["near"] += frames
        views = tuple(source.view_of(int(i)) for i in rows) if source.views else ()
        return VideoHashes(
            hashes=hashes,
            timestamps=source.timestamps[rows] - start,
            qualities=source.qualities[rows].copy(),
            views=views,
            duration_seconds=length,
            frame_count=frames,
            view_design=source.view_design,
        )

    # --- helpers ---------------------------------------------------------------------------

    def _family_pool(self) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int16]]:
        """Per family item and view stream, the hash every list shares: black (all views
        black), fade steps, title cards, logos and walls."""
        rng = self._rng
        items = 1 + FADE_STEPS + TITLE_CARDS + LOGOS + WALLS
        pool = rng.integers(0, 256, size=(items, self._streams, PDQ_BYTES), dtype=np.uint8)
        pool[0] = 0
        # Walls: nearly flat pictures, whose hashes have few bits set.
        walls = slice(items - WALLS, items)
        pool[walls] &= rng.integers(0, 256, size=pool[walls].shape, dtype=np.uint8) & 0x11
        quality = np.empty(items, dtype=np.int16)
        quality[0] = 0
        quality[1 : 1 + FADE_STEPS] = np.linspace(5, 45, FADE_STEPS).astype(np.int16)
        quality[1 + FADE_STEPS : items - WALLS] = rng.integers(50, 101, TITLE_CARDS + LOGOS)
        quality[walls] = rng.integers(0, 20, WALLS)
        return pool, quality

    def _laid_out(
        self, streams: npt.NDArray[np.uint8], qualities: npt.NDArray[np.int16], frames: int
    ) -> VideoHashes:
        """Rows in time order: each frame's full row, then on every n-th frame its derived
        views' rows."""
        shape = self._shape
        derived = np.arange(0, frames, shape.derived_every)
        per_frame = np.ones(frames, dtype=np.int64)
        per_frame[derived] += len(shape.derived_views)
        frame_of_row = np.repeat(np.arange(frames), per_frame)
        first_row = np.concatenate([[0], np.cumsum(per_frame)[:-1]])
        stream_of_row = np.arange(len(frame_of_row)) - first_row[frame_of_row]
        hashes = streams[stream_of_row, frame_of_row]
        view_of_stream = (View.FULL, *shape.derived_views)
        # Full frames alone carry no views (and no design), as a vPDQ import does.
        views = (
            tuple(view_of_stream[s] for s in stream_of_row.tolist()) if shape.derived_views else ()
        )
        return VideoHashes(
            hashes=np.ascontiguousarray(hashes),
            timestamps=frame_of_row / shape.frames_per_second,
            qualities=qualities[frame_of_row],
            views=views,
            duration_seconds=frames / shape.frames_per_second,
            frame_count=frames,
            view_design=shape.view_design,
        )


def _sparse_masks(rng: np.random.Generator, count: int, mean_bits: float) -> npt.NDArray[np.uint8]:
    """`count` masks with a Poisson(`mean_bits`) number of random bits set (rarely fewer,
    when two land on the same bit)."""
    per_row = rng.poisson(mean_bits, size=count)
    rows = np.repeat(np.arange(count), per_row)
    bits = rng.integers(0, PDQ_BITS, size=len(rows))
    masks = np.zeros((count, PDQ_BYTES), dtype=np.uint8)
    np.bitwise_xor.at(masks, (rows, bits // 8), (0x80 >> (bits % 8)).astype(np.uint8))
    return masks


def _flipped(
    rng: np.random.Generator, hashes: npt.NDArray[np.uint8], bits: npt.NDArray[np.int64]
) -> npt.NDArray[np.uint8]:
    """Each row with exactly `bits[i]` distinct bits flipped."""
    keys = rng.random((len(hashes), PDQ_BITS))
    # The bits[i] smallest keys of row i are its flipped bits.
    ranks = np.argsort(np.argsort(keys, axis=1), axis=1)
    flips = ranks < bits[:, None]
    return np.asarray(hashes ^ np.packbits(flips, axis=1), dtype=np.uint8)


def _with_hashes(source: VideoHashes, hashes: npt.NDArray[np.uint8]) -> VideoHashes:
    return VideoHashes(
        hashes=np.ascontiguousarray(hashes, dtype=np.uint8),
        timestamps=source.timestamps.copy(),
        qualities=source.qualities.copy(),
        views=source.views,
        duration_seconds=source.duration_seconds,
        frame_count=source.frame_count,
        view_design=source.view_design,
    )
