"""Where the picture is: borders, the sharp inner picture, candidate sub-regions.

Edits that change the geometry (letterbox, padding, a video over a blurred copy of itself,
captions, picture-in-picture, split screens) move the reference's pixels to a part of the
query frame. We find candidate parts and hash each, so the reference meets its own pixels.
Layout is a property of the video, not the frame, so detection accumulates over frames:
a dark or flat scene does not make a border appear.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from hashes.types import View

Box = tuple[int, int, int, int]
"""(top, bottom, left, right) in pixels, half-open: rows top..bottom-1, cols left..right-1."""

UNIFORM_STD = 6.0  # a row or column this flat in every frame seen is padding, whatever colour
MIN_SIDE_FRACTION = 0.25  # a detected picture smaller than this is more likely a mistake


# The standard deviation of each row and of each column of a frame.
LineSpread = tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]


def line_spread(luma: npt.NDArray[np.uint8]) -> LineSpread:
    """How much each row and each column of `luma` varies: a border's lines are flat. Both
    the layout tracker and the per-frame borders read it, so it is worked out once a frame."""
    image = luma.astype(np.float32)
    return image.std(axis=1), image.std(axis=0)


@dataclass(frozen=True, slots=True)
class Region:
    view: View
    box: Box
    name: str


def _edge_run(flat: npt.NDArray[np.bool_]) -> tuple[int, int]:
    """Length of the run of True at the start and at the end of `flat`."""
    n = len(flat)
    start = int(np.argmin(flat)) if not flat.all() else n
    end = int(np.argmin(flat[::-1])) if not flat.all() else n
    return start, end


def _longest_run(mask: npt.NDArray[np.bool_], max_gap: int) -> tuple[int, int]:
    """Start and end (half-open) of the longest run of True, bridging gaps up to max_gap."""
    best = (0, 0)
    start = -1
    gap = 0
    last_true = -1
    for i, value in enumerate(mask):
        if value:
            if start < 0:
                start = i
            last_true = i
            gap = 0
        elif start >= 0:
            gap += 1
            if gap > max_gap:
                if last_true + 1 - start > best[1] - best[0]:
                    best = (start, last_true + 1)
                start = -1
                gap = 0
    if start >= 0 and last_true + 1 - start > best[1] - best[0]:
        best = (start, last_true + 1)
    return best


class LayoutTracker:
    """Accumulates per-row and per-column statistics of a video's frames.

    `active_box()` is the area inside uniform borders; `inner_box()` is the band that carries
    detail when the rest is blurred or flat (a video laid over a blurred copy of itself).
    """

    def __init__(self) -> None:
        self._row_std_max: npt.NDArray[np.float32] | None = None
        self._col_std_max: npt.NDArray[np.float32] | None = None
        self._row_detail: npt.NDArray[np.float64] | None = None
        self._col_detail: npt.NDArray[np.float64] | None = None
        self._frames = 0
        self._shape: tuple[int, int] | None = None

    def update(self, luma: npt.NDArray[np.uint8], lines: LineSpread | None = None) -> None:
        """Take in one frame; `lines` are its `line_spread`, when the caller has them."""
        if self._shape is not None and luma.shape != self._shape:
            self.__init__()  # type: ignore[misc]  # a size change starts a new layout
        self._shape = (luma.shape[0], luma.shape[1])
        image = luma.astype(np.float32)
        row_std, col_std = lines if lines is not None else line_spread(luma)
        detail = np.abs(cv2.Laplacian(image, cv2.CV_32F, ksize=3))
        row_detail = detail.mean(axis=1).astype(np.float64)
        col_detail = detail.mean(axis=0).astype(np.float64)
        if self._row_std_max is None or self._col_std_max is None:
            self._row_std_max, self._col_std_max = row_std, col_std
            self._row_detail, self._col_detail = row_detail, col_detail
        else:
            np.maximum(self._row_std_max, row_std, out=self._row_std_max)
            np.maximum(self._col_std_max, col_std, out=self._col_std_max)
            assert self._row_detail is not None and self._col_detail is not None
            self._row_detail += row_detail
            self._col_detail += col_detail
        self._frames += 1

    def active_box(self) -> Box | None:
        """The picture inside uniform borders, or None when there are none (or no picture)."""
        if self._row_std_max is None or self._col_std_max is None or self._shape is None:
            return None
        rows, cols = self._shape
        top, bottom = _edge_run(self._row_std_max < UNIFORM_STD)
        left, right = _edge_run(self._col_std_max < UNIFORM_STD)
        # Uniform rows also make the columns look non-uniform and vice versa; two sides
        # suffice, and tiny slivers are compression noise.
        box = (top, rows - bottom, left, cols - right)
        return _accept(box, rows, cols, min_cut=0.02)

    def inner_box(self) -> Box | None:
        """The band with detail when the rest of the frame is blurred or flat, else None."""
        if self._row_detail is None or self._col_detail is None or self._shape is None:
            return None
        rows, cols = self._shape
        row_band = _detail_band(self._row_detail / max(self._frames, 1))
        col_band = _detail_band(self._col_detail / max(self._frames, 1))
        box = (row_band[0], row_band[1], col_band[0], col_band[1])
        return _accept(box, rows, cols, min_cut=0.08)


def _detail_band(profile: npt.NDArray[np.float64]) -> tuple[int, int]:
    n = len(profile)
    if n < 8:
        return 0, n
    smooth = np.convolve(profile, np.ones(5) / 5, mode="same")
    level = np.percentile(smooth, 90)
    if level <= 1e-6:
        return 0, n
    start, end = _longest_run(smooth >= 0.45 * level, max_gap=max(2, n // 40))
    return (start, end) if end > start else (0, n)


def _accept(box: Box, rows: int, cols: int, min_cut: float) -> Box | None:
    top, bottom, left, right = box
    height, width = bottom - top, right - left
    if height < MIN_SIDE_FRACTION * rows or width < MIN_SIDE_FRACTION * cols:
        return None
    if (rows - height) < min_cut * rows and (cols - width) < min_cut * cols:
        return None  # nothing worth cutting
    return box


def sub_regions(box: Box) -> list[Region]:
    """Candidate parts of the picture where a reference may sit under overlays and layouts.

    Captions and logos sit at the edges (the centre and the bands without top or bottom
    remove them); split screens put the reference in one half.
    """
    top, bottom, left, right = box
    height, width = bottom - top, right - left
    regions: list[Region] = []

    def add(name: str, t: float, b: float, lft: float, rgt: float) -> None:
        regions.append(
            Region(
                View.REGION,
                (
                    top + round(t * height),
                    top + round(b * height),
                    left + round(lft * width),
                    left + round(rgt * width),
                ),
                name,
            )
        )

    add("centre80", 0.1, 0.9, 0.1, 0.9)
    add("no-bottom", 0.0, 0.8, 0.0, 1.0)
    add("no-top", 0.2, 1.0, 0.0, 1.0)
    add("left-half", 0.0, 1.0, 0.0, 0.5)
    add("right-half", 0.0, 1.0, 0.5, 1.0)
    add("top-half", 0.0, 0.5, 0.0, 1.0)
    add("bottom-half", 0.5, 1.0, 0.0, 1.0)
    return regions


# Shares of the width and of the height a crop keeps: 10-30% cut, on each axis on its own.
CROP_SHARES = (1.0, 0.9, 0.8, 0.7)
# Shares a query's picture is zoomed into on a closer look: between two of `CROP_SHARES`
# lies at most 5% of scale, and a zoom of 5% or 10% takes the query onto one of them.
ZOOM_SHARES = (1.0, 0.95, 0.9)


def _share_grid(box: Box, shares: tuple[float, ...], view: View, name: str) -> list[Region]:
    """Every pair of kept shares (height, width) of `box` but the whole, each at three anchors
    per cut axis (the start, the centre, the end)."""
    top, bottom, left, right = box
    height, width = bottom - top, right - left
    parts: list[Region] = []
    for share_y in shares:
        for share_x in shares:
            if share_y == 1.0 and share_x == 1.0:
                continue
            h, w = round(share_y * height), round(share_x * width)
            for anchor_y in (0.5,) if share_y == 1.0 else (0.0, 0.5, 1.0):
                for anchor_x in (0.5,) if share_x == 1.0 else (0.0, 0.5, 1.0):
                    t = top + round(anchor_y * (height - h))
                    lft = left + round(anchor_x * (width - w))
                    parts.append(Region(view, (t, t + h, lft, lft + w), name))
    return parts


def zoomed_parts(box: Box) -> list[Region]:
    """Parts of a query's picture that a closer look hashes (`ZOOM_SHARES`).

    A crop of the reference lies up to 5% of scale and a few percent of place from the
    nearest of the reference's own crops (`reference_crops`); on detailed footage that is
    close enough, on fine texture (a few pixels a cell) it is not. Zoomed into the query,
    the part it shows meets one of those crops within a percent or two.
    """
    return _share_grid(box, ZOOM_SHARES, View.ZOOM, "zoom")


def reference_crops(box: Box) -> list[Region]:
    """Parts of a reference frame that a cropped or zoomed re-upload may show in full.

    Crops cut the width and the height by different amounts (10% off one side, 15% off two
    others): every pair of kept shares, at three anchors per cut axis, so any crop of 10-30%
    lies within a few percent of one of them, which PDQ tolerates. Also strips (split screens)
    and the picture without its top or bottom fifth (what a query shows once captions are cut).
    """
    top, bottom, left, right = box
    height, width = bottom - top, right - left
    crops = _share_grid(box, CROP_SHARES, View.REGION, "crop")
    # A strip of the picture, as a split screen shows it when it crops to fill its half: half
    # the width on a 16:9 canvas, two thirds on a wider one.
    for share in (0.5, 0.66):
        strip_w, strip_h = round(share * width), round(share * height)
        for anchor in (0.0, 0.5, 1.0):
            lft = left + round(anchor * (width - strip_w))
            crops.append(Region(View.REGION, (top, bottom, lft, lft + strip_w), "strip-x"))
            t = top + round(anchor * (height - strip_h))
            crops.append(Region(View.REGION, (t, t + strip_h, left, right), "strip-y"))
    # The same bands a query loses to captions and tickers (see `sub_regions`).
    band = round(0.8 * height)
    crops.append(Region(View.REGION, (top, top + band, left, right), "no-bottom"))
    crops.append(Region(View.REGION, (bottom - band, bottom, left, right), "no-top"))
    return crops


# Shapes (height / width) a video is cut to for a social feed: 1:1, 4:5 and 9:16 from a
# landscape video, 1:1 and 16:9 from a portrait one.
_FEED_SHAPES = (9 / 16, 1.0, 5 / 4, 16 / 9)
# Reframed parts step along the cut axis by this share of their own length, so a part kept
# anywhere lies within 5% of its length of one of them: on fine texture a fifth (10% off) lost
# 4 more of a development set of 50 reframed queries.
REFRAME_STEP = 0.1


def reframed_parts(box: Box) -> list[Region]:
    """Parts of a reference picture a re-upload reframed for a feed may show: the picture cut
    to a feed's shape across its full height (or width), placed anywhere along the cut axis
    (an editor follows the action). Only cuts deeper than the crops of `CROP_SHARES` reach."""
    top, bottom, left, right = box
    height, width = bottom - top, right - left
    parts: list[Region] = []
    for shape in _FEED_SHAPES:
        w, h = min(width, round(height / shape)), min(height, round(width * shape))
        cut = "x" if w < CROP_SHARES[-1] * width else "y" if h < CROP_SHARES[-1] * height else ""
        if not cut:
            continue
        length, room = (w, width - w) if cut == "x" else (h, height - h)
        count = math.ceil(room / (REFRAME_STEP * length)) + 1
        for step in range(count):
            start = round(step * room / (count - 1))
            if cut == "x":
                parts.append(
                    Region(View.REGION, (top, bottom, left + start, left + start + w), "reframe")
                )
            else:
                parts.append(
                    Region(View.REGION, (top + start, top + start + h, left, right), "reframe")
                )
    return parts


def frame_active_box(luma: npt.NDArray[np.uint8], lines: LineSpread | None = None) -> Box | None:
    """Uniform borders of this frame alone: for compilations, whose shots differ in layout.
    `lines` are the frame's `line_spread`, when the caller has them."""
    rows, cols = luma.shape
    row_std, col_std = lines if lines is not None else line_spread(luma)
    top, bottom = _edge_run(row_std < UNIFORM_STD)
    left, right = _edge_run(col_std < UNIFORM_STD)
    return _accept((top, rows - bottom, left, cols - right), rows, cols, min_cut=0.04)


def is_centred(box: Box, rows: int, cols: int) -> bool:
    """Whether the borders around `box` are even on both sides of each axis they cut, as
    padding that centres a picture on a canvas is. A uniform band at one edge alone is more
    likely a flat part of the picture (a wall, the sky) than padding."""
    top, bottom, left, right = box
    for before, after in ((top, rows - bottom), (left, cols - right)):
        if before == after == 0:
            continue
        if abs(before - after) > max(2, 0.25 * max(before, after)):
            return False
    return True


# Common picture shapes (height / width) that get put on a canvas of another shape.
_PICTURE_SHAPES = (9 / 16, 3 / 4, 1.0, 4 / 3, 16 / 9)


def template_bands(box: Box) -> list[Region]:
    """Centred pictures of common shapes inside a canvas of another shape.

    A landscape video over a blurred copy of itself on a portrait canvas (or the reverse)
    sits centred, scaled to the canvas width (or height). The blur defeats border
    detection, but the shape gives the place away.
    """
    top, bottom, left, right = box
    height, width = bottom - top, right - left
    canvas = height / width
    bands: list[Region] = []
    for shape in _PICTURE_SHAPES:
        if shape < canvas / 1.2:  # a wider picture: a band across the full width
            h = round(width * shape)
            t = top + (height - h) // 2
            bands.append(Region(View.INNER, (t, t + h, left, right), f"band-{shape:.2f}"))
        elif shape > canvas * 1.2:  # a taller picture: a pillar across the full height
            w = round(height / shape)
            lft = left + (width - w) // 2
            bands.append(Region(View.INNER, (top, bottom, lft, lft + w), f"pillar-{shape:.2f}"))
    return bands


# A side pane's shapes: those of `_PICTURE_SHAPES`, and the portrait shapes of phone cameras
# and social feeds (4:5, 2:3), which a split screen shows whole beside a wide clip.
_SIDE_PANE_SHAPES = (*_PICTURE_SHAPES, 5 / 4, 3 / 2)
# A side pane leaves room for another video beside it, and is no sliver.
SIDE_PANE_MIN_SHARE = 0.2
SIDE_PANE_MAX_SHARE = 0.85
# Panes this close to half the picture are the halves of `sub_regions` already.
SIDE_PANE_HALF_MARGIN = 0.03


def side_panes(box: Box) -> list[Region]:
    """Pictures of common shapes flush with a side of the picture, across its whole height
    (left and right) or width (top and bottom).

    A split screen sets two videos side by side at one height, each scaled whole at its own
    shape: a portrait clip beside a wide one fills a narrow pane at one side. When the divider
    is not a lasting edge the inset detector misses it and the halves cut the pane wrongly,
    but the pane's shape and its side give its place away, as for `template_bands`.
    """
    top, bottom, left, right = box
    height, width = bottom - top, right - left
    panes: list[Region] = []

    def wanted(share: float) -> bool:
        return (
            SIDE_PANE_MIN_SHARE <= share <= SIDE_PANE_MAX_SHARE
            and abs(share - 0.5) > SIDE_PANE_HALF_MARGIN
        )

    for shape in _SIDE_PANE_SHAPES:
        w = round(height / shape)
        if width and wanted(w / width):
            panes.append(Region(View.SIDE, (top, bottom, left, left + w), f"left-{shape:.2f}"))
            panes.append(Region(View.SIDE, (top, bottom, right - w, right), f"right-{shape:.2f}"))
        h = round(width * shape)
        if height and wanted(h / height):
            panes.append(Region(View.SIDE, (top, top + h, left, right), f"top-{shape:.2f}"))
            panes.append(Region(View.SIDE, (bottom - h, bottom, left, right), f"bot-{shape:.2f}"))
    return panes


def crop(luma: npt.NDArray[np.uint8], box: Box) -> npt.NDArray[np.uint8]:
    top, bottom, left, right = box
    return luma[top:bottom, left:right]


# A pane with bars of its own beside it: the bars' strips at the frame's edges, how far they
# must run from one edge (a share of the frame) to be a pane's and not the whole frame's.
FRAMED_PANE_STRIP = 0.02
FRAMED_PANE_MIN_SHARE = 0.3
FRAMED_PANE_MAX_SHARE = 0.85
FRAMED_PANE_TOLERANCE = 12.0  # grey levels a bar's rows may drift from its first (encoding)
FRAMED_PANE_FLAT_SPREAD = 16  # grey levels between the darkest and lightest pixel of a bar's row


def framed_panes(luma: npt.NDArray[np.uint8]) -> list[Region]:
    """Pictures with bars of their own inside one pane of a stacked or side-by-side layout.

    A portrait clip in the lower two thirds of a portrait reaction layout keeps the pillars
    that fit it to the canvas width, but only along its own pane: the frame's borders are not
    uniform from top to bottom, and the pane has no common shape. The bars give the pane
    away: flat strips of one colour at both edges, running from the top or the bottom edge
    part of the way (left and right bars of a pane at one side, likewise). Within that band,
    the picture is what the bars leave, when they centre it.
    """
    found: list[Region] = []
    for transposed in (False, True):
        image = luma.T if transposed else luma
        height, width = image.shape
        strip = max(2, round(FRAMED_PANE_STRIP * width))
        sides = (image[:, :strip], image[:, width - strip :])
        # Most frames show no bars at their corners: look there before profiling the strips.
        ends = [end for end in (False, True) if _barred_corners(sides, -1 if end else 0)]
        if not ends:
            continue
        # Per row: whether each edge strip is flat, and its colour.
        profiles = []
        for side in sides:
            spread = side.max(axis=1) - side.min(axis=1)
            profiles.append((spread < FRAMED_PANE_FLAT_SPREAD, side.mean(axis=1)))
        for from_end in ends:
            band = _barred_band(profiles, height, from_end)
            if band is None:
                continue
            start, end = band
            box = frame_active_box(image[start:end])
            if box is None or box[2] == 0 or not is_centred(box, end - start, width):
                continue
            top, bottom, left, right = start + box[0], start + box[1], box[2], box[3]
            picture = (left, right, top, bottom) if transposed else (top, bottom, left, right)
            found.append(Region(View.SIDE, picture, "framed"))
    return found


def _barred_corners(sides: tuple[npt.NDArray[np.uint8], ...], row: int) -> bool:
    """Whether both strips are flat at `row` and of one colour there."""
    first, second = (side[row] for side in sides)
    return bool(
        int(first.max()) - int(first.min()) < FRAMED_PANE_FLAT_SPREAD
        and int(second.max()) - int(second.min()) < FRAMED_PANE_FLAT_SPREAD
        and abs(float(first.mean()) - float(second.mean())) < FRAMED_PANE_TOLERANCE
    )


def _barred_band(
    profiles: list[tuple[npt.NDArray[np.bool_], npt.NDArray[np.float64]]],
    height: int,
    from_end: bool,
) -> tuple[int, int] | None:
    """The rows from the top (or bottom) edge along which both side strips stay flat and of
    the colour they have at that edge, when they stop part of the way down (`_barred_corners`
    has found both strips flat and of one colour at that edge)."""
    edge = -1 if from_end else 0
    run = height
    for flat, mean in profiles:
        barred = flat & (np.abs(mean - mean[edge]) < FRAMED_PANE_TOLERANCE)
        run = min(run, _edge_run(barred)[1 if from_end else 0])
    if not FRAMED_PANE_MIN_SHARE * height <= run <= FRAMED_PANE_MAX_SHARE * height:
        return None
    return (height - run, height) if from_end else (0, run)
