"""Where layouts put a picture (`hashes.views.layouts`): the panes of a split screen found by
their shape."""

from __future__ import annotations

import pytest

from hashes.types import View
from hashes.views.boxes import Box
from hashes.views.layouts import (
    SIDE_PANE_HALF_MARGIN,
    SIDE_PANE_MAX_SHARE,
    SIDE_PANE_MIN_SHARE,
    side_panes,
)


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
