"""Reference hashing: frames sampled at the reference rate, derived views on every n-th sampled
frame, and the design that made them carried with the rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hashes.formats.jsonl import LEGACY_DESIGN
from hashes.types import View
from hashes.video.params import ReferenceParams
from hashes.video.reference import hash_reference

pytestmark = pytest.mark.media

CHAIR = "te-chair-orig-22-sd-bar.mp4"


def test_the_design_names_what_the_derived_rows_depend_on() -> None:
    default = ReferenceParams()
    assert default.design == "views-1;fps=4;every=1;active;crops;reframe"
    assert ReferenceParams(fps=None, derived_every=2).design == LEGACY_DESIGN
    others = [
        ReferenceParams(fps=8.0),
        ReferenceParams(derived_every=2),
        ReferenceParams(use_reframe=False),
        ReferenceParams(use_crops=False, use_active=False),
    ]
    assert len({default.design, *(p.design for p in others)}) == 1 + len(others)


def test_a_reference_is_sampled_at_its_rate_with_derived_views_every_nth_sample(
    shared_data: Path,
) -> None:
    params = ReferenceParams(fps=4.0, derived_every=2)
    hashes = hash_reference(shared_data / "sources" / CHAIR, params)
    full = hashes.full_frame()
    gaps = np.diff(full.timestamps)
    assert np.median(gaps) == pytest.approx(0.25, abs=0.02)
    assert full.frame_count == len(full)
    derived_times = np.unique(hashes.timestamps[~hashes.full_frame_rows()])
    np.testing.assert_array_equal(derived_times, full.timestamps[::2])
    assert hashes.view_design == params.design != ReferenceParams().design
    assert {View.ACTIVE, View.REGION} <= set(hashes.views)


def test_full_frames_alone_carry_no_design(shared_data: Path) -> None:
    params = ReferenceParams(use_active=False, use_crops=False, use_reframe=False)
    hashes = hash_reference(shared_data / "sources" / CHAIR, params)
    assert hashes.views == () and hashes.view_design == ""
    assert hashes.made_with(ReferenceParams().design)
