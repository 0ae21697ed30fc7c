"""Video (and image) hashing: reference-grade and query-grade frame hashes.

References are hashed on every frame, full-frame at native resolution (the hashes that hash
lists exchange, close to Meta's vPDQ), plus internal views that stay in our index: the
picture inside its borders (or the whole frame) hashed as queries are, and crops of it, which
a cropped re-upload shows in full.

Queries are sampled (a few frames per second) and each sampled frame is hashed in several
views: full frame, inside borders, the sharp inner picture, candidate sub-regions, the
dihedral variants (mirror, 90-degree turns) of the whole picture, pictures of common shapes
at the sides (a split screen's panes), and the picture turned back a few degrees (a filmed
screen).
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from hashes import pdq
from hashes.decode import DecodeOptions, LumaFrame, is_image, iter_frames, read_image
from hashes.insets import InsetTracker
from hashes.regions import (
    Box,
    LayoutTracker,
    LineSpread,
    crop,
    frame_active_box,
    framed_panes,
    is_centred,
    line_spread,
    reference_crops,
    reframed_parts,
    side_panes,
    sub_regions,
    template_bands,
    zoomed_parts,
)
from hashes.types import PDQ_BYTES, VideoHashes, View

# Dihedral variants re-uploads use (order of `pdq.dihedral_dct`): the three quarter turns of a
# phone held the wrong way, and the mirror image. Upside-down mirrors and transposes are rare
# and each costs a search row per frame.
REUPLOAD_TURNS = (1, 2, 3, 5)
# A phone filming a screen holds it a few degrees off level (1-4 seen); PDQ of a detailed
# picture stays close within about 1.5 degrees, so two turns back cover both directions.
TILT_DEGREES = (-2.5, 2.5)
CHUNK_FRAMES = 16  # layout statistics gather over a chunk before its frames are hashed
VIEW_MAX_SIDE = 320  # derived views need no more pixels than this for a 64x64 grid


@dataclass(frozen=True, slots=True)
class ReferenceParams:
    """How references are hashed. `fps=None` hashes every frame."""

    fps: float | None = None
    # Derived views (borders removed, crops) on every n-th frame; the full-frame hash, the one
    # lists exchange, is on every frame. Every 2nd frame of 25-30 fps footage leaves any query
    # sample within 1/30 s of a derived view: as close as every frame, in half the index.
    derived_every: int = 2
    # The active picture (inside uniform borders, or the whole frame) hashed as queries are.
    use_active: bool = True
    use_crops: bool = True
    # The picture cut to a feed's shape (1:1, 4:5, 9:16) anywhere along the cut axis.
    use_reframe: bool = True


@dataclass(frozen=True, slots=True)
class QueryParams:
    """How queries are hashed; each `use_*` switch turns one mechanism on or off."""

    fps: float = 4.0
    max_side: int = VIEW_MAX_SIDE
    use_fast_decode: bool = True
    use_active: bool = True
    use_inner: bool = True
    use_regions: bool = True
    use_dihedral: bool = True
    use_insets: bool = True
    use_tilt: bool = True
    use_side_panes: bool = True
    use_framed_panes: bool = True
    # Full frames first: the other views are hashed only when the full frames leave the
    # match unsettled (`hashes.cascade`).
    use_first_look: bool = True
    # A closer look (`closer_look`) at a query whose match stays unsettled after every view:
    # zoomed parts of its pictures, for crops that fall between the reference's own.
    use_closer_look: bool = True
    # Layout and insets read from the chunk being hashed and the next one: outlines found in
    # busy video only after more frames still apply to the first.
    use_look_ahead: bool = True


class _Rows:
    """Accumulates hash rows of one video."""

    def __init__(self) -> None:
        self.hashes: list[npt.NDArray[np.uint8]] = []
        self.qualities: list[npt.NDArray[np.int16]] = []
        self.timestamps: list[float] = []
        self.views: list[View] = []
        self.frames = 0

    def add(
        self,
        hashes: npt.NDArray[np.uint8],
        qualities: npt.NDArray[np.int16],
        timestamps: Iterable[float],
        views: Iterable[View],
    ) -> None:
        self.hashes.append(hashes)
        self.qualities.append(qualities)
        self.timestamps.extend(timestamps)
        self.views.extend(views)

    def build(self, duration: float) -> VideoHashes:
        if self.hashes:
            hashes = np.concatenate(self.hashes)
            qualities = np.concatenate(self.qualities)
        else:
            hashes = np.zeros((0, PDQ_BYTES), dtype=np.uint8)
            qualities = np.zeros(0, dtype=np.int16)
        timestamps = np.asarray(self.timestamps, dtype=np.float64)
        order = np.argsort(timestamps, kind="stable")
        views = tuple(self.views[i] for i in order)
        all_full = all(v is View.FULL for v in views)
        return VideoHashes(
            hashes=np.ascontiguousarray(hashes[order]),
            timestamps=timestamps[order],
            qualities=qualities[order],
            views=() if all_full else views,
            duration_seconds=duration,
            frame_count=self.frames,
        )


def _chunks(frames: Iterator[LumaFrame], size: int) -> Iterator[list[LumaFrame]]:
    chunk: list[LumaFrame] = []
    for frame in frames:
        chunk.append(frame)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _observed(
    chunks: Iterator[list[LumaFrame]],
    observe: Callable[[list[LumaFrame]], None],
    *,
    ahead: bool,
) -> Iterator[list[LumaFrame]]:
    """Each chunk after `observe` has seen it (and, with `ahead`, the next one too)."""
    held: list[LumaFrame] | None = None
    for chunk in chunks:
        observe(chunk)
        if not ahead:
            yield chunk
            continue
        if held is not None:
            yield held
        held = chunk
    if held is not None:
        yield held


def _shrink(luma: npt.NDArray[np.uint8], max_side: int) -> npt.NDArray[np.uint8]:
    rows, cols = luma.shape
    if max(rows, cols) <= max_side:
        return luma
    scale = max_side / max(rows, cols)
    size = (max(2, round(cols * scale)), max(2, round(rows * scale)))
    return np.asarray(cv2.resize(luma, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)


def _duration(frames_seen: list[float]) -> float:
    if len(frames_seen) < 2:
        return 0.0 if not frames_seen else 1.0
    steps = np.diff(np.asarray(frames_seen))
    step = float(np.median(steps)) if len(steps) else 0.0
    return float(frames_seen[-1] + max(step, 0.0))


def _tilted_grids(
    grid: npt.NDArray[np.float32], rows: int, cols: int
) -> list[npt.NDArray[np.float32]]:
    """The 64x64 grid of a `rows` x `cols` picture, turned about its centre by each of
    `TILT_DEGREES` as the picture itself would turn, corners filled by reflection.

    Turning the small grid instead of the picture costs a fraction as much: the area
    average taken before the turn is the low-pass PDQ's grid applies anyway. Bilinear taps
    in numpy rather than `cv2.warpAffine`, whose thread pool spends more CPU on a 64x64
    grid than the turn itself.
    """
    sources, weights = _tilt_taps(rows, cols)
    turned = (grid.ravel()[sources] * weights).sum(axis=1)
    return [np.asarray(t.reshape(pdq.GRID, pdq.GRID), dtype=np.float32) for t in turned]


@functools.lru_cache(maxsize=32)
def _tilt_taps(rows: int, cols: int) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.float32]]:
    """Per tilt, the four source cells of each grid cell and their bilinear weights, shape
    (tilts, 4, 64 * 64); pictures of one shape share them."""
    size = pdq.GRID
    centre = (size - 1) / 2
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float64)
    # Grid cells to picture pixels (from the centre): a cell is cols/64 wide, rows/64 high.
    px, py = (xs - centre) * cols / size, (ys - centre) * rows / size
    sources, weights = [], []
    for degrees in TILT_DEGREES:
        # Counter-clockwise by `degrees` (OpenCV's sense, y down): each cell shows the
        # picture point turned back by the inverse.
        cos, sin = np.cos(np.radians(degrees)), np.sin(np.radians(degrees))
        gx = (cos * px - sin * py) * size / cols + centre
        gy = (sin * px + cos * py) * size / rows + centre
        x0, y0 = np.floor(gx), np.floor(gy)
        fx, fy = gx - x0, gy - y0
        taps, taps_weights = [], []
        for dy, wy in ((0, 1 - fy), (1, fy)):
            for dx, wx in ((0, 1 - fx), (1, fx)):
                row = _reflected(y0 + dy, size)
                col = _reflected(x0 + dx, size)
                taps.append((row * size + col).ravel())
                taps_weights.append((wy * wx).ravel())
        sources.append(np.stack(taps))
        weights.append(np.stack(taps_weights))
    return np.stack(sources).astype(np.intp), np.stack(weights).astype(np.float32)


def _reflected(index: npt.NDArray[np.float64], size: int) -> npt.NDArray[np.intp]:
    """Cell indices mirrored at the edges (cba|abc...xyz|zyx), as OpenCV's BORDER_REFLECT."""
    index = np.where(index < 0, -index - 1, index)
    index = np.where(index > size - 1, 2 * size - index - 1, index)
    return np.clip(index, 0, size - 1).astype(np.intp)


def _side_pane_grids(luma: npt.NDArray[np.uint8], picture: Box) -> list[npt.NDArray[np.float32]]:
    """The grids of `side_panes(picture)`: panes at the left and right run the picture's
    whole height, those at the top and bottom its whole width, so each group shares one
    pass of the area average."""
    top, bottom, left, _ = picture
    inside = crop(luma, picture)
    upright: list[tuple[int, int]] = []
    lying: list[tuple[int, int]] = []
    for region in side_panes(picture):
        t, b, lft, rgt = region.box
        if (t, b) == (top, bottom):
            upright.append((lft - left, rgt - left))
        else:
            lying.append((t - top, b - top))
    grids: list[npt.NDArray[np.float32]] = []
    if upright:
        grids.extend(pdq.downsample_64_strips(inside, upright, columns=True))
    if lying:
        grids.extend(pdq.downsample_64_strips(inside, lying, columns=False))
    return grids


def _frames(path: Path, options: DecodeOptions) -> Iterator[LumaFrame]:
    if is_image(path):
        yield read_image(path, options.max_side)
        return
    yield from iter_frames(path, options)


def hash_reference(path: Path, params: ReferenceParams = ReferenceParams()) -> VideoHashes:
    """Reference-grade hashes: every frame full-frame at native size (exportable, vPDQ-like),
    plus internal views (inside borders, crops) as REGION/ACTIVE rows."""
    layout = _reference_layout(path) if params.use_active else None
    rows = _Rows()
    times: list[float] = []
    options = DecodeOptions(fps=params.fps)
    for chunk in _chunks(_frames(path, options), CHUNK_FRAMES):
        grids: list[npt.NDArray[np.float32]] = []
        stamps: list[float] = []
        views: list[View] = []
        for frame in chunk:
            times.append(frame.timestamp)
            grids.append(pdq.downsample_64(frame.luma))
            stamps.append(frame.timestamp)
            views.append(View.FULL)
            if (len(times) - 1) % max(params.derived_every, 1):
                continue
            small = _shrink(frame.luma, VIEW_MAX_SIDE)
            box = _scale_box(layout, small.shape) if layout else None
            full_box = box or (0, small.shape[0], 0, small.shape[1])
            if params.use_active:
                # The picture as queries hash it (shrunk, area-averaged), borders or none: the
                # exportable full-frame hash decimates without low-pass, as Meta's does, and on
                # fine textures (cells, noise) its aliasing moves 60-80 bits from a query's.
                grids.append(pdq.downsample_64_fast(crop(small, full_box)))
                stamps.append(frame.timestamp)
                views.append(View.ACTIVE)
            parts = reference_crops(full_box) if params.use_crops else []
            if params.use_reframe:
                parts += reframed_parts(full_box)
            for region in parts:
                grids.append(pdq.downsample_64_fast(crop(small, region.box)))
                stamps.append(frame.timestamp)
                views.append(View.REGION)
        hashes, qualities = pdq.hash_grids(np.stack(grids))
        rows.add(hashes, qualities, stamps, views)
        rows.frames += len(chunk)
    return rows.build(_duration(times))


def _reference_layout(path: Path) -> tuple[Box, tuple[int, int]] | None:
    """The active box of a reference, from a sparse first pass (layout is per video)."""
    if is_image(path):
        frames: Iterator[LumaFrame] = iter([read_image(path, VIEW_MAX_SIDE)])
    else:
        frames = iter_frames(path, DecodeOptions(fps=2.0, max_side=VIEW_MAX_SIDE, fast=True))
    tracker = LayoutTracker()
    shape: tuple[int, int] | None = None
    for frame in frames:
        tracker.update(frame.luma)
        shape = (frame.luma.shape[0], frame.luma.shape[1])
    box = tracker.active_box()
    return (box, shape) if box is not None and shape is not None else None


def _scale_box(layout: tuple[Box, tuple[int, int]] | None, shape: tuple[int, ...]) -> Box | None:
    if layout is None:
        return None
    (top, bottom, left, right), (rows, cols) = layout
    sy, sx = shape[0] / rows, shape[1] / cols
    return (round(top * sy), round(bottom * sy), round(left * sx), round(right * sx))


def hash_query(path: Path, params: QueryParams | None = None) -> VideoHashes:
    """Query-grade hashes: sampled frames, each hashed in every enabled view."""
    params = params or QueryParams()
    return _hash_frames(_frames(path, _query_options(params)), params)


def _query_options(params: QueryParams) -> DecodeOptions:
    return DecodeOptions(fps=params.fps, max_side=params.max_side, fast=params.use_fast_decode)


# Sampled frames a first look keeps for the other views: 10 minutes at 4 fps, about 140 MB
# at 320x180. A longer video is hashed in every view at once.
MAX_KEPT_FRAMES = 2400


@dataclass(frozen=True, eq=False)
class FirstLook:
    """A query's full-frame rows, and the sampled frames to hash its other views from.

    Most re-uploads show the whole picture: their full frames settle the match, and the
    derived views (nine in ten of the rows, most of the hashing) would be hashed for nothing.
    `complete` when `hashes` already holds every view (a long video, or an image); `frames`
    is None when they were too many to keep (a long video).
    """

    hashes: VideoHashes
    frames: tuple[LumaFrame, ...] | None
    complete: bool = False


def first_look(path: Path, params: QueryParams | None = None) -> FirstLook:
    """Decode and sample `path` once, hashing only the full frames (`complete_look` hashes
    the rest from the frames kept). An image is hashed in every view at once: one frame
    settles nothing sooner."""
    params = params or QueryParams()
    frames = _frames(path, _query_options(params))
    kept = list(itertools.islice(frames, MAX_KEPT_FRAMES))
    extra = next(frames, None)
    if extra is not None or not kept:
        rest = itertools.chain(kept, [] if extra is None else [extra], frames)
        return FirstLook(_hash_frames(rest, params), None, complete=True)
    if is_image(path):
        return FirstLook(_hash_frames(iter(kept), params), tuple(kept), complete=True)
    grids = np.stack([pdq.downsample_64_fast(frame.luma) for frame in kept])
    hashes, qualities = pdq.hash_grids(grids)
    rows = _Rows()
    rows.add(hashes, qualities, [f.timestamp for f in kept], [View.FULL] * len(kept))
    rows.frames = len(kept)
    return FirstLook(rows.build(_duration([f.timestamp for f in kept])), tuple(kept))


def complete_look(look: FirstLook, params: QueryParams | None = None) -> VideoHashes:
    """Every view of the query of `look`: what `hash_query` gives, without decoding again."""
    if look.complete or look.frames is None:
        return look.hashes
    return _hash_frames(iter(look.frames), params or QueryParams())


def closer_look(look: FirstLook, hashes: VideoHashes) -> VideoHashes:
    """`hashes` (every view of the query of `look`) with zoomed parts of each kept frame's
    picture added (`zoomed_parts`); `hashes` as they are when no frames were kept."""
    if look.frames is None:
        return hashes
    grids: list[npt.NDArray[np.float32]] = []
    stamps: list[float] = []
    for frame in look.frames:
        luma = frame.luma
        own = frame_active_box(luma)
        picture = own if own is not None and is_centred(own, *luma.shape) else None
        for part in zoomed_parts(picture or (0, luma.shape[0], 0, luma.shape[1])):
            grids.append(pdq.downsample_64_fast(crop(luma, part.box)))
            stamps.append(frame.timestamp)
    if not grids:
        return hashes
    zoomed, qualities = pdq.hash_grids(np.stack(grids))
    rows = _Rows()
    rows.add(hashes.hashes, hashes.qualities, hashes.timestamps.tolist(),
             hashes.views or [View.FULL] * len(hashes))  # fmt: skip
    rows.add(zoomed, qualities, stamps, [View.ZOOM] * len(stamps))
    rows.frames = hashes.frame_count
    return rows.build(hashes.duration_seconds)


def _hash_frames(frames: Iterator[LumaFrame], params: QueryParams) -> VideoHashes:
    tracker = LayoutTracker()
    insets = InsetTracker()
    rows = _Rows()
    times: list[float] = []

    spreads: dict[int, LineSpread] = {}  # by id of the frame's luma, while it is in flight

    def observe(chunk: list[LumaFrame]) -> None:
        for frame in chunk:
            spreads[id(frame.luma)] = line_spread(frame.luma)
            tracker.update(frame.luma, spreads[id(frame.luma)])
            if params.use_insets:
                insets.update(frame.luma)

    chunks = _chunks(frames, CHUNK_FRAMES)
    for chunk in _observed(chunks, observe, ahead=params.use_look_ahead):
        active = tracker.active_box() if params.use_active else None
        inset_regions = insets.insets() if params.use_insets else []
        inner = tracker.inner_box() if params.use_inner else None
        grids: list[npt.NDArray[np.float32]] = []
        stamps: list[float] = []
        views: list[View] = []
        turnable: list[int] = []  # rows whose dihedral variants are added
        for frame in chunk:
            times.append(frame.timestamp)
            luma = frame.luma
            lines = spreads.pop(id(luma), None)
            picture = active or (0, luma.shape[0], 0, luma.shape[1])
            whole = picture  # the whole-picture view turned into tilts: the last one added
            candidates: list[tuple[View, npt.NDArray[np.uint8], bool]] = [(View.FULL, luma, True)]
            if active is not None:
                candidates.append((View.ACTIVE, crop(luma, active), True))
            if params.use_active:
                own = frame_active_box(luma, lines)
                if own is not None and own != active:
                    candidates.append((View.ACTIVE, crop(luma, own), True))
                    whole = own
                    # Sub-regions follow this frame's borders only when they centre it, as a
                    # shot padded in a compilation: a flat wall along one side of a split
                    # screen's pane is no border, and would shift the halves off the pane.
                    if is_centred(own, *luma.shape):
                        picture = own
            if inner is not None and inner != active:
                candidates.append((View.INNER, crop(luma, inner), False))
            if params.use_inner:
                candidates.extend(
                    (region.view, crop(luma, region.box), False)
                    for region in template_bands(picture)
                )
            if params.use_regions:
                candidates.extend(
                    (region.view, crop(luma, region.box), False) for region in sub_regions(picture)
                )
            candidates.extend((r.view, crop(luma, r.box), False) for r in inset_regions)
            for view, image, turn in candidates:
                if turn:
                    turnable.append(len(grids))
                grids.append(pdq.downsample_64_fast(image))
                stamps.append(frame.timestamp)
                views.append(view)
            if params.use_side_panes:
                for grid in _side_pane_grids(luma, picture):
                    grids.append(grid)
                    stamps.append(frame.timestamp)
                    views.append(View.SIDE)
            if params.use_framed_panes:
                inside = crop(luma, picture)
                for region in framed_panes(inside):
                    grids.append(pdq.downsample_64_fast(crop(inside, region.box)))
                    stamps.append(frame.timestamp)
                    views.append(View.SIDE)
            if params.use_tilt:
                # The whole-picture views come first, and the last of them is `whole`.
                top, bottom, left, right = whole
                for grid in _tilted_grids(grids[turnable[-1]], bottom - top, right - left):
                    grids.append(grid)
                    stamps.append(frame.timestamp)
                    views.append(View.TILT)
        stacked = np.stack(grids)
        coefficients = pdq.dct_16(stacked)
        qualities = pdq.quality_of(stacked)
        rows.add(pdq.bits_from_dct(coefficients), qualities, stamps, views)
        if params.use_dihedral and turnable:
            variants = pdq.dihedral_dct(coefficients[turnable])[:, list(REUPLOAD_TURNS)]
            count = variants.shape[1]
            flat = variants.reshape(len(turnable) * count, pdq.COEFFS, pdq.COEFFS)
            rows.add(
                pdq.bits_from_dct(flat),
                np.repeat(qualities[turnable], count),
                np.repeat(np.asarray(stamps)[turnable], count).tolist(),
                [View.FLIP] * len(flat),
            )
        rows.frames += len(chunk)
    return rows.build(_duration(times))
