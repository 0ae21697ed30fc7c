"""Boxes: where a part of a picture lies, and what cuts it out."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from hashes.types import View

Box = tuple[int, int, int, int]
"""(top, bottom, left, right) in pixels, half-open: rows top..bottom-1, cols left..right-1."""


@dataclass(frozen=True, slots=True)
class Region:
    """A part of a picture hashed as `view`; `name` says which rule found it."""

    view: View
    box: Box
    name: str


def crop(luma: npt.NDArray[np.uint8], box: Box) -> npt.NDArray[np.uint8]:
    top, bottom, left, right = box
    return luma[top:bottom, left:right]


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
