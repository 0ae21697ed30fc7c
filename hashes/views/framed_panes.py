"""Panes with bars of their own: a picture fitted into one pane of a stacked or side-by-side
layout, found from the flat bars at its sides."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from hashes.types import View
from hashes.views.borders import edge_run, frame_active_box
from hashes.views.boxes import Region, is_centred

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
        run = min(run, edge_run(barred)[1 if from_end else 0])
    if not FRAMED_PANE_MIN_SHARE * height <= run <= FRAMED_PANE_MAX_SHARE * height:
        return None
    return (height - run, height) if from_end else (0, run)
