"""Panes with bars of their own (`hashes.views.framed_panes`): pictures with bars inside one
pane of a layout."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from hashes.types import View
from hashes.views.framed_panes import framed_panes


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
