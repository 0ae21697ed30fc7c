"""Reference hashing: sampled frames full-frame at native size (exportable, vPDQ-like), plus
internal views on every few frames: the picture inside its borders hashed as queries are
(ACTIVE) and crops and reframings of it (REGION), which a cropped re-upload shows in full."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from hashes import pdq
from hashes.decode import DecodeOptions, LumaFrame, shrunk
from hashes.types import VideoHashes, View
from hashes.video.frames import CHUNK_FRAMES, chunks, duration_of, media_frames
from hashes.video.params import VIEW_MAX_SIDE, ReferenceParams
from hashes.video.rows import GridRow, HashedRows, hash_rows, video_hashes
from hashes.views.borders import LayoutTracker
from hashes.views.boxes import Box, crop
from hashes.views.crops import reference_crops, reframed_parts

# The active box of a reference, and the frame shape it was found at.
Layout = tuple[Box, tuple[int, int]]


def hash_reference(path: Path, params: ReferenceParams | None = None) -> VideoHashes:
    """Reference-grade hashes: sampled frames full-frame at native size (exportable,
    vPDQ-like), plus internal views (inside borders, crops) as REGION/ACTIVE rows, marked with
    the design that made them (`ReferenceParams.design`)."""
    params = params or ReferenceParams()
    layout = _reference_layout(path) if params.use_active else None
    hashed: list[HashedRows] = []
    times: list[float] = []
    for chunk in chunks(media_frames(path, params.decode_options()), CHUNK_FRAMES):
        rows: list[GridRow] = []
        for frame in chunk:
            times.append(frame.timestamp)
            rows.append(GridRow(pdq.downsample_64(frame.luma), frame.timestamp, View.FULL))
            if (len(times) - 1) % max(params.derived_every, 1) == 0:
                rows.extend(_derived_rows(frame, layout, params))
        hashed.append(hash_rows(rows))
    hashes = video_hashes(hashed, duration_seconds=duration_of(times), frame_count=len(times))
    return dataclasses.replace(hashes, view_design=params.design) if hashes.views else hashes


def _derived_rows(
    frame: LumaFrame, layout: Layout | None, params: ReferenceParams
) -> list[GridRow]:
    """The internal views of one frame, hashed from the frame shrunk as queries are."""
    small = shrunk(frame.luma, VIEW_MAX_SIDE)
    box = _scale_box(layout, small.shape) if layout else None
    full_box = box or (0, small.shape[0], 0, small.shape[1])
    rows: list[GridRow] = []
    if params.use_active:
        # The picture as queries hash it (shrunk, area-averaged), borders or none: the
        # exportable full-frame hash decimates without low-pass, as Meta's does, and on
        # fine textures (cells, noise) its aliasing moves 60-80 bits from a query's.
        grid = pdq.downsample_64_fast(crop(small, full_box))
        rows.append(GridRow(grid, frame.timestamp, View.ACTIVE))
    parts = reference_crops(full_box) if params.use_crops else []
    if params.use_reframe:
        parts += reframed_parts(full_box)
    for region in parts:
        grid = pdq.downsample_64_fast(crop(small, region.box))
        rows.append(GridRow(grid, frame.timestamp, View.REGION))
    return rows


def _reference_layout(path: Path) -> Layout | None:
    """The active box of a reference, from a sparse first pass (layout is per video)."""
    frames = media_frames(path, DecodeOptions(fps=2.0, max_side=VIEW_MAX_SIDE, fast=True))
    tracker = LayoutTracker()
    shape: tuple[int, int] | None = None
    for frame in frames:
        tracker.update(frame.luma)
        shape = (frame.luma.shape[0], frame.luma.shape[1])
    box = tracker.active_box()
    return (box, shape) if box is not None and shape is not None else None


def _scale_box(layout: Layout | None, shape: tuple[int, ...]) -> Box | None:
    if layout is None:
        return None
    (top, bottom, left, right), (rows, cols) = layout
    sy, sx = shape[0] / rows, shape[1] / cols
    return (round(top * sy), round(bottom * sy), round(left * sx), round(right * sx))
