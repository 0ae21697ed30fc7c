"""Boxes (`hashes.views.boxes`): which borders centre a picture."""

from __future__ import annotations

from hashes.views.boxes import is_centred


def test_borders_even_on_both_sides_centre_the_picture() -> None:
    assert is_centred((40, 320, 0, 640), 360, 640)  # letterbox
    assert is_centred((0, 360, 80, 561), 360, 640)  # pillarbox, a pixel of rounding
    assert is_centred((0, 360, 0, 640), 360, 640)  # no border at all


def test_a_uniform_band_along_one_side_does_not_centre_the_picture() -> None:
    # A flat wall along the right of a split screen's pane, or the sky above a scene.
    assert not is_centred((0, 90, 0, 290), 90, 320)
    assert not is_centred((30, 360, 0, 640), 360, 640)
    assert not is_centred((0, 360, 40, 560), 360, 640)  # 40 px one side, 80 the other
