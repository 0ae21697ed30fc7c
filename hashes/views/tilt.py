"""Tilted views: the picture turned back a few degrees, as a phone filming a screen holds it,
turned on its 64x64 grid rather than on its pixels."""

from __future__ import annotations

import functools

import numpy as np
import numpy.typing as npt

from hashes import pdq

# A phone filming a screen holds it a few degrees off level (1-4 seen); PDQ of a detailed
# picture stays close within about 1.5 degrees, so two turns back cover both directions.
TILT_DEGREES = (-2.5, 2.5)


def tilted_grids(
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
