"""Borders and the sharp inner picture, read from the pixels of a video's frames.

Layout is a property of the video, not the frame, so `LayoutTracker` accumulates over frames:
a dark or flat scene does not make a border appear. `frame_active_box` reads one frame alone,
for compilations, whose shots differ in layout.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from hashes.views.boxes import Box

UNIFORM_STD = 6.0  # a row or column this flat in every frame seen is padding, whatever colour
MIN_SIDE_FRACTION = 0.25  # a detected picture smaller than this is more likely a mistake


# The standard deviation of each row and of each column of a frame.
LineSpread = tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]


def line_spread(luma: npt.NDArray[np.uint8]) -> LineSpread:
    """How much each row and each column of `luma` varies: a border's lines are flat. Both
    the layout tracker and the per-frame borders read it, so it is worked out once a frame."""
    image = luma.astype(np.float32)
    return image.std(axis=1), image.std(axis=0)


def edge_run(flat: npt.NDArray[np.bool_]) -> tuple[int, int]:
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
        top, bottom = edge_run(self._row_std_max < UNIFORM_STD)
        left, right = edge_run(self._col_std_max < UNIFORM_STD)
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


def frame_active_box(luma: npt.NDArray[np.uint8], lines: LineSpread | None = None) -> Box | None:
    """Uniform borders of this frame alone: for compilations, whose shots differ in layout.
    `lines` are the frame's `line_spread`, when the caller has them."""
    rows, cols = luma.shape
    row_std, col_std = lines if lines is not None else line_spread(luma)
    top, bottom = edge_run(row_std < UNIFORM_STD)
    left, right = edge_run(col_std < UNIFORM_STD)
    return _accept((top, rows - bottom, left, cols - right), rows, cols, min_cut=0.04)
