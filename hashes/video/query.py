"""Query hashing: sampled frames, each hashed in every enabled view.

A frame's whole picture (the frame, and the picture inside its borders) is hashed as it is,
in the dihedral variants re-uploads use, and turned back a few degrees; its parts (the sharp
inner picture, bands and halves, insets, a split screen's panes) as they are.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from hashes import pdq
from hashes.decode import LumaFrame
from hashes.types import VideoHashes, View
from hashes.video.frames import CHUNK_FRAMES, chunks, duration_of, media_frames, observed
from hashes.video.params import QueryParams
from hashes.video.rows import GridRow, HashedRows, dct_rows, video_hashes
from hashes.views.borders import LayoutTracker, LineSpread, frame_active_box, line_spread
from hashes.views.boxes import Box, Region, crop, is_centred
from hashes.views.framed_panes import framed_panes
from hashes.views.insets import InsetTracker
from hashes.views.layouts import sub_regions, template_bands
from hashes.views.pane_grids import side_pane_grids
from hashes.views.tilt import tilted_grids

# Dihedral variants re-uploads use (order of `pdq.dihedral_dct`): every one but the picture
# itself: the three quarter turns of a phone held the wrong way, the mirror image, and the
# upside-down mirror and the two transposes (a mirrored copy turned), which evade a matcher
# that hashes only the first four (decision 0006).
REUPLOAD_TURNS = (1, 2, 3, 4, 5, 6, 7)


def hash_query(path: Path, params: QueryParams | None = None) -> VideoHashes:
    """Query-grade hashes: sampled frames, each hashed in every enabled view."""
    params = params or QueryParams()
    return hash_query_frames(media_frames(path, params.decode_options()), params)


@dataclass(frozen=True, slots=True)
class _ChunkLayout:
    """What the trackers read of the video around a chunk: its borders, its sharp inner
    picture and its insets (each None or empty when switched off or not found)."""

    active: Box | None
    inner: Box | None
    insets: list[Region]


@dataclass(frozen=True, slots=True)
class _FrameRows:
    """The rows of one frame: its whole picture's views, which are also hashed turned, and
    the rest, tilted views last."""

    whole: list[GridRow]
    parts: list[GridRow]


def hash_query_frames(frames: Iterator[LumaFrame], params: QueryParams) -> VideoHashes:
    """Every enabled view of each of `frames`, a query's sampled frames."""
    tracker = LayoutTracker()
    insets = InsetTracker()
    spreads: dict[int, LineSpread] = {}  # by id of the frame's luma, while it is in flight

    def observe(chunk: list[LumaFrame]) -> None:
        for frame in chunk:
            spreads[id(frame.luma)] = line_spread(frame.luma)
            tracker.update(frame.luma, spreads[id(frame.luma)])
            if params.use_insets:
                insets.update(frame.luma)

    hashed: list[HashedRows] = []
    times: list[float] = []
    for chunk in observed(chunks(frames, CHUNK_FRAMES), observe, ahead=params.use_look_ahead):
        layout = _ChunkLayout(
            active=tracker.active_box() if params.use_active else None,
            inner=tracker.inner_box() if params.use_inner else None,
            insets=insets.insets() if params.use_insets else [],
        )
        rows: list[GridRow] = []
        turnable: list[int] = []  # the rows of whole pictures, hashed turned too
        for frame in chunk:
            times.append(frame.timestamp)
            lines = spreads.pop(id(frame.luma), None)
            frame_rows = _frame_rows(frame, lines, layout, params)
            turnable.extend(range(len(rows), len(rows) + len(frame_rows.whole)))
            rows += frame_rows.whole + frame_rows.parts
        hashed.extend(_hash_chunk(rows, turnable, params))
    return video_hashes(hashed, duration_seconds=duration_of(times), frame_count=len(times))


def _frame_rows(
    frame: LumaFrame, lines: LineSpread | None, layout: _ChunkLayout, params: QueryParams
) -> _FrameRows:
    """The rows of `frame` in every enabled view; `lines` are its `line_spread`, `layout` what
    the trackers read around its chunk."""
    luma, timestamp = frame.luma, frame.timestamp
    active = layout.active
    whole_frame = (0, luma.shape[0], 0, luma.shape[1])
    picture = active or whole_frame  # where the parts are cut from
    whole_boxes: list[tuple[View, Box]] = [(View.FULL, whole_frame)]
    if active is not None:
        whole_boxes.append((View.ACTIVE, active))
    if params.use_active:
        own = frame_active_box(luma, lines)
        if own is not None and own != active:
            whole_boxes.append((View.ACTIVE, own))
            # Sub-regions follow this frame's borders only when they centre it, as a shot
            # padded in a compilation: a flat wall along one side of a split screen's pane is
            # no border, and would shift the halves off the pane.
            if is_centred(own, *luma.shape):
                picture = own
    part_boxes: list[tuple[View, Box]] = []
    if layout.inner is not None and layout.inner != active:
        part_boxes.append((View.INNER, layout.inner))
    if params.use_inner:
        part_boxes.extend((region.view, region.box) for region in template_bands(picture))
    if params.use_regions:
        part_boxes.extend((region.view, region.box) for region in sub_regions(picture))
    part_boxes.extend((region.view, region.box) for region in layout.insets)

    def cut(view: View, box: Box, of: npt.NDArray[np.uint8] = luma) -> GridRow:
        return GridRow(pdq.downsample_64_fast(crop(of, box)), timestamp, view)

    whole = [cut(view, box) for view, box in whole_boxes]
    parts = [cut(view, box) for view, box in part_boxes]
    if params.use_side_panes:
        panes = side_pane_grids(luma, picture)
        parts.extend(GridRow(grid, timestamp, View.SIDE) for grid in panes)
    if params.use_framed_panes:
        inside = crop(luma, picture)
        parts.extend(cut(View.SIDE, region.box, inside) for region in framed_panes(inside))
    if params.use_tilt:
        # The last whole picture is the one the frame shows: inside this frame's own borders,
        # else the video's, else the frame.
        top, bottom, left, right = whole_boxes[-1][1]
        turned = tilted_grids(whole[-1].grid, bottom - top, right - left)
        parts.extend(GridRow(grid, timestamp, View.TILT) for grid in turned)
    return _FrameRows(whole, parts)


def _hash_chunk(rows: list[GridRow], turnable: list[int], params: QueryParams) -> list[HashedRows]:
    """`rows` hashed, and the dihedral variants of the `turnable` ones."""
    hashed, coefficients = dct_rows(rows)
    if not params.use_dihedral or not turnable:
        return [hashed]
    variants = pdq.dihedral_dct(coefficients[turnable])[:, list(REUPLOAD_TURNS)]
    count = variants.shape[1]
    flat = variants.reshape(len(turnable) * count, pdq.COEFFS, pdq.COEFFS)
    turned = HashedRows(
        pdq.bits_from_dct(flat),
        np.repeat(hashed.qualities[turnable], count),
        np.repeat(hashed.timestamps[turnable], count),
        (View.DIHEDRAL,) * len(flat),
    )
    return [hashed, turned]
