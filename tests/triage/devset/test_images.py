from __future__ import annotations

import numpy as np

from triage.devset import images


def test_same_seed_same_scene_other_seed_other_scene() -> None:
    a = images.scene(np.random.default_rng(1), 320, 200)
    b = images.scene(np.random.default_rng(1), 320, 200)
    c = images.scene(np.random.default_rng(2), 320, 200)
    assert a.shape == (200, 320, 3)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_logo_is_opaque_in_the_middle_and_transparent_in_a_corner() -> None:
    logo = images.logo(np.random.default_rng(3), 80)
    assert logo.shape == (80, 80, 4)
    assert logo[40, 40, 3] == 255
    assert logo[0, 0, 3] == 0


def test_title_card_is_near_uniform() -> None:
    card = images.title_card(np.random.default_rng(4), 640, 360)
    # Most of the card is one shade: the low-information frame hard negatives need.
    assert np.mean(card == card[0, 0]) > 0.9
