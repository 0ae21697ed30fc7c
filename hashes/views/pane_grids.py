"""The 64x64 grids of a picture's side panes, each group of panes in one pass."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from hashes import pdq
from hashes.views.boxes import Box, crop
from hashes.views.layouts import side_panes


def side_pane_grids(luma: npt.NDArray[np.uint8], picture: Box) -> list[npt.NDArray[np.float32]]:
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
