"""Parts a crop, a zoom or a reframing keeps (`hashes.views.crops`)."""

from __future__ import annotations

import numpy as np
import pytest

from hashes.types import View
from hashes.views.boxes import Box
from hashes.views.crops import reference_crops, reframed_parts, zoomed_parts


def test_a_closer_look_zooms_into_every_part_a_crop_between_two_reference_crops_needs() -> None:
    box = (20, 380, 10, 650)  # 360 x 640 inside borders
    parts = zoomed_parts(box)
    assert {p.view for p in parts} == {View.ZOOM}
    # Two shares beside the whole on each axis, three anchors on a cut axis.
    assert len(parts) == len({p.box for p in parts}) == 2 * 3 + 2 * 3 + 4 * 9
    for top, bottom, left, right in (p.box for p in parts):
        assert 20 <= top < bottom <= 380 and 10 <= left < right <= 650
        assert {round((bottom - top) / 360, 2), round((right - left) / 640, 2)} <= {1.0, 0.95, 0.9}
    # A query showing the reference's left 84% and top 89%, zoomed into 95% of its width
    # from the left, shows the reference's left 80%: one of its own crops, to the pixel.
    reference = (0, 1000, 0, 1000)
    query = (0, 890, 0, 840)
    kept = {r.box for r in reference_crops(reference)}
    zoomed = [p.box for p in zoomed_parts(query)]
    assert (0, 890, 0, 798) in zoomed and (0, 900, 0, 800) in kept


@pytest.mark.parametrize(
    ("box", "shapes"),
    [
        # 16:9: cut to 1:1, 4:5 and 9:16 at full height (4:3 is a crop of 75%: crops reach it).
        ((0, 360, 0, 640), {(360, 360), (360, 288), (360, 202)}),
        # 9:16: cut to 1:1 and 16:9 at full width.
        ((0, 640, 0, 360), {(360, 360), (202, 360)}),
    ],
)
def test_reframed_parts_cut_a_feeds_shapes_across_the_whole_picture(
    box: Box, shapes: set[tuple[int, int]]
) -> None:
    parts = reframed_parts(box)
    sizes = {(b - t, r - lft) for t, b, lft, r in (p.box for p in parts)}
    assert sizes == shapes
    top, bottom, left, right = box
    for shape in shapes:
        placed = sorted(p.box for p in parts if (p.box[1] - p.box[0], p.box[3] - p.box[2]) == shape)
        # From one end of the cut axis to the other, each step within a tenth of the part.
        cut_x = shape[0] == bottom - top
        starts = [b[2] if cut_x else b[0] for b in placed]
        length = shape[1] if cut_x else shape[0]
        assert starts[0] == (left if cut_x else top)
        assert starts[-1] + length == (right if cut_x else bottom)
        assert max(np.diff(starts)) <= 0.1 * length + 1
    assert {p.view for p in parts} == {View.REGION}
    assert not set(parts) & set(reference_crops(box))  # deeper than any crop
