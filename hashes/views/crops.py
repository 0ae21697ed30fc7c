"""Parts of a picture that a crop, a zoom or a reframing for a feed keeps. Box geometry alone:
no pixels are read."""

from __future__ import annotations

import math

from hashes.types import View
from hashes.views.boxes import Box, Region

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
    # The same bands a query loses to captions and tickers (see `layouts.sub_regions`).
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
