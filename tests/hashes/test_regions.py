"""Candidate regions of `hashes.regions`: the panes of a split screen found by their shape,
and pictures with bars of their own inside one pane."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from hashes.regions import (
    SIDE_PANE_HALF_MARGIN,
    SIDE_PANE_MAX_SHARE,
    SIDE_PANE_MIN_SHARE,
    Box,
    framed_panes,
    is_centred,
    reference_crops,
    reframed_parts,
    side_panes,
    zoomed_parts,
)
from hashes.types import View


def _boxes(box: Box) -> set[Box]:
    return {region.box for region in side_panes(box)}


def test_a_portrait_pane_beside_a_wide_clip_is_a_candidate_at_either_side() -> None:
    # A 9:16 clip scaled to 480 rows (270 wide) beside a 16:9 one (854 wide).
    boxes = _boxes((0, 480, 0, 1124))
    assert (0, 480, 0, 270) in boxes
    assert (0, 480, 1124 - 270, 1124) in boxes


def test_phone_shaped_portrait_panes_are_candidates() -> None:
    # A 2:3 clip (480 x 720 scaled to 392 rows: 261 wide) and a 4:5 one beside wide clips.
    assert (0, 392, 960 - 261, 960) in _boxes((0, 392, 0, 960))
    assert (0, 480, 0, 384) in _boxes((0, 480, 0, 1124))


def test_panes_on_a_portrait_canvas_lie_across_its_width_at_top_and_bottom() -> None:
    # Two 16:9 clips stacked on a 9:16 canvas: each 304 rows of 540 x 960.
    boxes = _boxes((0, 960, 0, 540))
    assert (0, 304, 0, 540) in boxes
    assert (960 - 304, 960, 0, 540) in boxes
    assert all(left == 0 and right == 540 for _, _, left, right in boxes)


def test_panes_lie_inside_the_picture_they_are_cut_from() -> None:
    top, bottom, left, right = 40, 440, 10, 1110  # a letterboxed split screen
    for region in side_panes((top, bottom, left, right)):
        t, b, lft, rgt = region.box
        assert region.view is View.SIDE
        assert top <= t < b <= bottom and left <= lft < rgt <= right


@pytest.mark.parametrize("box", [(0, 360, 0, 640), (0, 480, 0, 1124), (0, 960, 0, 540)])
def test_panes_leave_room_for_another_clip_and_skip_the_halves(box: Box) -> None:
    top, bottom, left, right = box
    for region in side_panes(box):
        t, b, lft, rgt = region.box
        full_height = (t, b) == (top, bottom)
        across = (rgt - lft) / (right - left) if full_height else (b - t) / (bottom - top)
        assert SIDE_PANE_MIN_SHARE <= across <= SIDE_PANE_MAX_SHARE, region.name
        assert abs(across - 0.5) > SIDE_PANE_HALF_MARGIN, f"{region.name}: a half, a sub-region"


def test_borders_even_on_both_sides_centre_the_picture() -> None:
    assert is_centred((40, 320, 0, 640), 360, 640)  # letterbox
    assert is_centred((0, 360, 80, 561), 360, 640)  # pillarbox, a pixel of rounding
    assert is_centred((0, 360, 0, 640), 360, 640)  # no border at all


def test_a_uniform_band_along_one_side_does_not_centre_the_picture() -> None:
    # A flat wall along the right of a split screen's pane, or the sky above a scene.
    assert not is_centred((0, 90, 0, 290), 90, 320)
    assert not is_centred((30, 360, 0, 640), 360, 640)
    assert not is_centred((0, 360, 40, 560), 360, 640)  # 40 px one side, 80 the other


def _texture(rng: np.random.Generator, rows: int, cols: int) -> npt.NDArray[np.uint8]:
    return rng.integers(0, 256, (rows, cols), dtype=np.uint8)


def test_a_pillarboxed_picture_in_the_lower_pane_is_found_inside_its_bars() -> None:
    rng = np.random.default_rng(1)
    frame = np.zeros((320, 180), dtype=np.uint8)  # portrait: a pane of 2/3 at the bottom
    frame[:107] = _texture(rng, 107, 180)
    frame[107:, 30:150] = _texture(rng, 213, 120)
    assert [(r.view, r.box) for r in framed_panes(frame)] == [(View.SIDE, (107, 320, 30, 150))]
    # The same layout upside down, and turned a quarter (a letterboxed pane at one side).
    assert [r.box for r in framed_panes(frame[::-1].copy())] == [(0, 213, 30, 150)]
    assert [r.box for r in framed_panes(frame.T.copy())] == [(30, 150, 107, 320)]


def test_bars_down_the_whole_frame_or_nowhere_make_no_framed_pane() -> None:
    rng = np.random.default_rng(2)
    pillarboxed = np.zeros((180, 320), dtype=np.uint8)  # borders of the frame: `active`'s job
    pillarboxed[:, 40:280] = _texture(rng, 180, 240)
    assert framed_panes(pillarboxed) == []
    assert framed_panes(_texture(rng, 180, 320)) == []
    # Bars of different colours at the two sides are two pictures' edges, not one's pillars.
    uneven = np.zeros((320, 180), dtype=np.uint8)
    uneven[:107] = _texture(rng, 107, 180)
    uneven[107:, 30:150] = _texture(rng, 213, 120)
    uneven[107:, 150:] = 200
    assert framed_panes(uneven) == []


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
