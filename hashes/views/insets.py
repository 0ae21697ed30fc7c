"""Insets: pictures laid into a video (picture-in-picture, a clip inside a frame of text).

The border of an inset is an edge in every frame, while the edges of moving content come and
go: pixels on an edge in most sampled frames, and clearly more often than the pixels beside
them, outline the inset. Lines of such pixels (even broken ones) give candidate sides; the
rectangles whose outline is mostly lasting edge, and whose sides end at their corners, are
hashed as query regions.

An outline between two pixel columns lands on either of them from frame to frame, so the
lasting edges are counted on edges widened by one pixel (found), and each side is then
placed on the column of the narrow edge count that is most often an edge (precise). The box
hashed is a few pixels inside that: a row of background in a small inset moves its hash more
than a row of the inset lost.

A lasting line that runs across the whole frame divides it (a split screen, a picture between
blurred bands): the panes between such lines are candidates too, though most of their
outline is the frame's own edge.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from hashes.types import View
from hashes.views.boxes import Box, Region

EDGE_CONTRAST = 24.0  # Sobel response of a step of about six grey levels
EDGE_PERSISTENCE = 0.75  # share of sampled frames in which a pixel must be on an edge
RIDGE_OFFSET = 3  # pixels across an edge (Sobel edges are two pixels wide)
RIDGE_MARGIN = 0.25  # how much more often than there the outline must be on an edge
# An inset shorter than this share of the frame's short side is too small to hash (a landscape
# inset on a portrait canvas is short next to the canvas height).
INSET_MIN_SIDE = 0.15
INSET_MIN_COVER = 0.5  # share of its detected outline that must be lasting edge
MAX_INSETS = 3
# A lasting line across this share of the frame divides it (split screens, a picture between
# blurred bands): the panes on either side are candidates, though most of their outline is
# the frame's own edge.
DIVIDER_SHARE = 0.9
MAX_DIVIDERS = 2  # per direction
PANE_MIN_EDGES = 0.02  # mean lasting-edge share below which a pane is a plain bar
INSET_MARGIN = 2  # pixels left out on each side of a found box
_MAX_LINES = 24  # backgrounds of bars or grids bring many long lines of their own


class InsetTracker:
    """Accumulates lasting edges over a video's sampled frames; `insets()` reads them.

    A side on the frame's own edge (an inset in a corner) needs no support, but at least two
    sides must be seen.
    """

    def __init__(self) -> None:
        self._counts: list[npt.NDArray[np.int32]] = []  # vertical, horizontal, both widened
        self._frames = 0

    def update(self, luma: npt.NDArray[np.uint8]) -> None:
        # Integer Sobel, saturated to 8 bits: exact below the threshold, and a seventh of the
        # cost of the float version.
        vertical = cv2.convertScaleAbs(cv2.Sobel(luma, cv2.CV_16S, 1, 0, ksize=3)) > EDGE_CONTRAST
        horizontal = cv2.convertScaleAbs(cv2.Sobel(luma, cv2.CV_16S, 0, 1, ksize=3)) > EDGE_CONTRAST
        wide_vertical = vertical.copy()
        wide_vertical[:, 1:] |= vertical[:, :-1]
        wide_horizontal = horizontal.copy()
        wide_horizontal[1:, :] |= horizontal[:-1, :]
        if not self._counts or self._counts[0].shape != vertical.shape:
            self._counts = [np.zeros(vertical.shape, dtype=np.int32) for _ in range(4)]
            self._frames = 0
        for count, edges in zip(
            self._counts, (vertical, horizontal, wide_vertical, wide_horizontal), strict=True
        ):
            np.add(count, edges, out=count, casting="unsafe")
        self._frames += 1

    def insets(self) -> list[Region]:
        if not self._counts or self._frames < 4:
            return []
        vertical, horizontal, wide_vertical, wide_horizontal = (
            count / self._frames for count in self._counts
        )
        ridges = _ridge(wide_vertical, axis=1), _ridge(wide_horizontal, axis=0)
        # Panes stand beside the rectangles: a weak rectangle leaning on a divider would
        # otherwise hide the pane it lies in.
        panes = [p for p in _panes(*ridges) if _busy(p, wide_vertical, wide_horizontal)]
        found = dict.fromkeys([*_rectangles(*ridges), *panes])
        # A little inside the placed box: a row of background (or of a frame edge's
        # artefacts) moves a small picture's hash more than a row of the picture lost.
        boxes = dict.fromkeys(_shrunk(_placed(box, vertical, horizontal)) for box in found)
        return [Region(View.REGION, box, "inset") for box in boxes]


def _placed(
    box: Box, vertical: npt.NDArray[np.float64], horizontal: npt.NDArray[np.float64]
) -> Box:
    """Each side moved to the nearby column (row) most often on a narrow edge along it."""
    top, bottom, left, right = box
    rows, cols = vertical.shape

    def best(strength: Callable[[int], float], near: int, limit: int) -> int:
        candidates = range(max(near - 2, 0), min(near + 2, limit))
        return max(candidates, key=lambda c: (strength(c), -abs(c - near)))

    if left > 0:
        left = best(lambda c: float(vertical[top:bottom, c].sum()), left, cols)
    if right < cols:
        right = best(lambda c: float(vertical[top:bottom, c].sum()), right - 1, cols) + 1
    if top > 0:
        top = best(lambda r: float(horizontal[r, left:right].sum()), top, rows)
    if bottom < rows:
        bottom = best(lambda r: float(horizontal[r, left:right].sum()), bottom - 1, rows) + 1
    return top, bottom, left, right


def _shrunk(box: Box) -> Box:
    """The box `INSET_MARGIN` inside each side, the frame's own edges too: the outermost rows
    of a frame are where scalers and encoders (padding odd sizes to whole blocks) are least
    faithful."""
    top, bottom, left, right = box
    margin = INSET_MARGIN
    return top + margin, bottom - margin, left + margin, right - margin


def _busy(box: Box, vertical: npt.NDArray[np.float64], horizontal: npt.NDArray[np.float64]) -> bool:
    """Whether anything moves or shows inside: the black bars of a letterbox are panes too."""
    top, bottom, left, right = box
    inside = (slice(top, bottom), slice(left, right))
    return float(vertical[inside].mean() + horizontal[inside].mean()) >= PANE_MIN_EDGES


def _panes(vertical: npt.NDArray[np.bool_], horizontal: npt.NDArray[np.bool_]) -> list[Box]:
    """The parts of the frame between lasting lines that run (nearly) across all of it."""
    rows, cols = vertical.shape
    min_side = INSET_MIN_SIDE * min(rows, cols)
    panes: list[Box] = []
    for edges, across in ((vertical, cols), (horizontal.T, rows)):
        # Share of each column on the line, give or take a pixel: the busier side of a split
        # breaks the line into pieces, but they lie along the whole of it.
        cover = (edges | np.roll(edges, 1, axis=1) | np.roll(edges, -1, axis=1)).mean(axis=0)
        position = np.arange(across)
        inside = (position >= min_side) & (position <= across - min_side)
        candidates = np.flatnonzero((cover >= DIVIDER_SHARE) & inside)
        dividers = _strongest_apart(cover, candidates, MAX_DIVIDERS)
        cuts = [0, *sorted(dividers), across]
        for start, end in itertools.pairwise(cuts):
            if end - start < min_side or (start, end) == (0, across):
                continue
            panes.append((0, rows, start, end) if across == cols else (start, end, 0, cols))
    return panes


def _ridge(share: npt.NDArray[np.float64], axis: int) -> npt.NDArray[np.bool_]:
    """Pixels on an edge in most frames, and clearly more often than the pixels a few steps
    across on at least one side: busy texture is on some edge everywhere, an outline only
    along itself (one side of it may be busy or still)."""
    # Sobel sees no edge in the outermost pixels (it mirrors the border): they and anything
    # beyond them are no side to compare with. An inset a pixel or two from the frame's edge
    # is compared on its inner side only.
    valid = np.moveaxis(share, axis, -1).copy()
    valid[..., [0, -1]] = np.nan
    before = np.full_like(valid, np.nan)
    after = np.full_like(valid, np.nan)
    before[..., RIDGE_OFFSET:] = valid[..., :-RIDGE_OFFSET]
    after[..., :-RIDGE_OFFSET] = valid[..., RIDGE_OFFSET:]
    across = np.moveaxis(np.fmin(before, after), -1, axis)
    with np.errstate(invalid="ignore"):
        return np.asarray((share >= EDGE_PERSISTENCE) & (share - across >= RIDGE_MARGIN))


def _longest_runs(edges: npt.NDArray[np.bool_], max_gap: int) -> npt.NDArray[np.int64]:
    """Per column, the length of the longest run of True, bridging gaps up to `max_gap`."""
    rows, cols = edges.shape
    if max_gap > 0:
        kernel = np.ones((max_gap + 1, 1), dtype=np.uint8)  # closing fills gaps up to max_gap
        edges = cv2.morphologyEx(edges.astype(np.uint8), cv2.MORPH_CLOSE, kernel).astype(bool)
    # Column-major with a False between columns, so runs never join across columns.
    flat = np.zeros((cols, rows + 1), dtype=np.int8)
    flat[:, :rows] = edges.T
    steps = np.diff(np.concatenate([[0], flat.ravel()]))
    starts, ends = np.flatnonzero(steps == 1), np.flatnonzero(steps == -1)
    longest = np.zeros(cols, dtype=np.int64)
    np.maximum.at(longest, starts // (rows + 1), ends - starts)
    return longest


def _line_positions(edges: npt.NDArray[np.bool_], min_length: int) -> list[int]:
    """Columns holding the longest lines of `edges` (one per widened edge, 3 pixels wide)."""
    longest = _longest_runs(edges, 2)
    return _strongest_apart(longest, np.flatnonzero(longest >= min_length), _MAX_LINES)


def _strongest_apart(
    strength: npt.NDArray[Any], candidates: npt.NDArray[np.intp], count: int
) -> list[int]:
    """Up to `count` of the candidate positions, strongest first, one per widened edge
    (positions within 3 pixels of a stronger one are the same edge)."""
    positions: list[int] = []
    for position in candidates[np.argsort(-strength[candidates], kind="stable")]:
        if all(abs(int(position) - p) > 3 for p in positions):
            positions.append(int(position))
        if len(positions) == count:
            break
    return positions


def _pairs(values: list[int], limit: int, min_span: float) -> tuple[npt.NDArray[np.int64], ...]:
    """All (low, high) pairs of `values` at least `min_span` apart, except (0, limit)."""
    array = np.asarray(values, dtype=np.int64)
    low, high = np.triu_indices(len(array), k=1)
    low, high = array[low], array[high]
    keep = (high - low >= min_span) & ~((low == 0) & (high == limit))
    return low[keep], high[keep]


@dataclass(frozen=True, slots=True)
class _EdgeSums:
    """Lasting-edge pixels counted along columns and rows, for any stretch in O(1)."""

    down: npt.NDArray[np.float64]  # (rows + 1, cols): vertical-edge pixels above each row
    across: npt.NDArray[np.float64]  # (rows, cols + 1): horizontal-edge pixels left of each col

    def column(self, x: Any, start: Any, end: Any) -> npt.NDArray[np.float64]:
        return np.asarray(self.down[end, x] - self.down[start, x])

    def row(self, y: Any, start: Any, end: Any) -> npt.NDArray[np.float64]:
        return np.asarray(self.across[y, end] - self.across[y, start])


def _rectangles(vertical: npt.NDArray[np.bool_], horizontal: npt.NDArray[np.bool_]) -> list[Box]:
    rows, cols = vertical.shape
    # An edge is two pixels wide and drifts by one: widen before measuring support.
    vertical = vertical | np.roll(vertical, 1, axis=1)
    horizontal = horizontal | np.roll(horizontal, 1, axis=0)
    min_side = INSET_MIN_SIDE * min(rows, cols)
    xs = sorted({*_line_positions(vertical, int(min_side / 2)), 0, cols})
    ys = sorted({*_line_positions(horizontal.T, int(min_side / 2)), 0, rows})
    left, right = _pairs(xs, cols, min_side)
    top, bottom = _pairs(ys, rows, min_side)
    if len(left) == 0 or len(top) == 0:
        return []
    wide_v = vertical | np.roll(vertical, 1, axis=1) | np.roll(vertical, -1, axis=1)
    wide_h = horizontal | np.roll(horizontal, 1, axis=0) | np.roll(horizontal, -1, axis=0)
    sums = _EdgeSums(
        down=np.vstack([np.zeros((1, cols)), np.cumsum(wide_v, axis=0)]),
        across=np.hstack([np.zeros((rows, 1)), np.cumsum(wide_h, axis=1)]),
    )
    # Every (row pair) x (column pair) at once.
    score = _box_scores(sums, top[:, None], bottom[:, None], left[None, :], right[None, :])
    chosen: list[Box] = []
    passed = np.flatnonzero(np.isfinite(score))
    for flat in passed[np.argsort(-score.flat[passed], kind="stable")]:
        i, j = divmod(int(flat), len(left))
        box = (int(top[i]), int(bottom[i]), int(left[j]), int(right[j]))
        if not any(_overlapping(box, other) for other in chosen):
            chosen.append(box)
        if len(chosen) == MAX_INSETS:
            break
    return chosen


def _box_scores(
    sums: _EdgeSums,
    top: npt.NDArray[np.int64],
    bottom: npt.NDArray[np.int64],
    left: npt.NDArray[np.int64],
    right: npt.NDArray[np.int64],
) -> npt.NDArray[np.float64]:
    """How much each box looks like an inset (-inf: not one). A side on the frame's own edge
    is not seen: an inset in a corner has no outline there."""
    rows, cols = sums.across.shape[0], sums.down.shape[1]
    shape = np.broadcast_shapes(top.shape, left.shape)
    height = np.broadcast_to(bottom - top, shape).astype(np.float64)
    width = np.broadcast_to(right - left, shape).astype(np.float64)
    last_col = np.minimum(right, cols) - 1
    sides = [  # (lasting edge along it, its length, seen)
        (sums.column(left, top, bottom), height, left > 0),
        (sums.column(last_col, top, bottom), height, right < cols),
        (sums.row(top, left, right), width, top > 0),
        (sums.row(bottom - 1, left, right), width, bottom < rows),
    ]
    covered, seen_length = np.zeros(shape), np.zeros(shape)
    seen_sides, weakest = np.zeros(shape, dtype=np.int64), np.ones(shape)
    for found, length, seen in sides:
        seen = np.broadcast_to(seen, shape)
        covered += np.where(seen, found, 0.0)
        seen_length += np.where(seen, length, 0.0)
        seen_sides += seen
        weakest = np.minimum(weakest, np.where(seen, found / length, 1.0))
    good = (seen_sides >= 2) & (covered >= INSET_MIN_COVER * seen_length) & (weakest >= 0.2)
    score = np.full(shape, -np.inf)
    if not good.any():
        return score
    # Only boxes that pass are measured further.
    top, bottom = np.broadcast_to(top, shape)[good], np.broadcast_to(bottom, shape)[good]
    left, right = np.broadcast_to(left, shape)[good], np.broadcast_to(right, shape)[good]
    last_col = np.minimum(right, cols) - 1
    # An inset's sides end at its corners; lines running on past them (the bars or grid of a
    # background) make boxes of the background.
    reach_y = np.maximum((bottom - top) // 4, 1)
    reach_x = np.maximum((right - left) // 4, 1)
    above, below = np.maximum(top - reach_y, 0), np.minimum(bottom + reach_y, rows)
    before, after = np.maximum(left - reach_x, 0), np.minimum(right + reach_x, cols)
    overshoot = sum(
        np.where(seen, past_start + past_end, 0.0)
        for seen, past_start, past_end in (
            (left > 0, sums.column(left, above, top), sums.column(left, bottom, below)),
            (right < cols, sums.column(last_col, above, top), sums.column(last_col, bottom, below)),
            (top > 0, sums.row(top, before, left), sums.row(top, right, after)),
            (bottom < rows, sums.row(bottom - 1, before, left), sums.row(bottom - 1, right, after)),
        )
    )
    # The share of the outline found, less the share missing and the share overshot. Here a
    # side on the frame's edge counts as missing: backgrounds' own lines run to the frame's
    # edges, so boxes leaning on them are more often background than inset.
    perimeter = 2 * (height[good] + width[good])
    score[good] = (2 * covered[good] - perimeter - overshoot) / perimeter
    return score


def _overlapping(a: Box, b: Box) -> bool:
    """Much the same box, or one inside the other: the larger (better-supported) one stands."""
    top, bottom = max(a[0], b[0]), min(a[1], b[1])
    left, right = max(a[2], b[2]), min(a[3], b[3])
    inter = max(0, bottom - top) * max(0, right - left)
    area_a = (a[1] - a[0]) * (a[3] - a[2])
    area_b = (b[1] - b[0]) * (b[3] - b[2])
    return inter > 0.5 * (area_a + area_b - inter) or inter >= 0.95 * min(area_a, area_b)
