"""Where edit layouts put a picture: halves and bands without captions, centred pictures of
common shapes, panes flush with a side. Box geometry alone: no pixels are read."""

from __future__ import annotations

from hashes.types import View
from hashes.views.boxes import Box, Region


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
