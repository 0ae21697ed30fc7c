"""The hashing functions a worker runs take their parameters from the settings."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hashes.types import View
from triage.config import load_settings
from workers.service import media_tools

CLIP = "sources/te-pattern-longer-no-bar.mp4"


def _derived_rows(shared_data: Path, every: int) -> tuple[int, int]:
    settings = load_settings(environ={"TRIAGE_MATCH__REFERENCE_DERIVED_EVERY": str(every)})
    hashes = media_tools(settings).hash_reference(shared_data / CLIP)
    full = int(np.sum([view is View.FULL for view in hashes.views]))
    return full, len(hashes) - full


def test_reference_derived_views_follow_the_setting(shared_data: Path) -> None:
    full_dense, derived_dense = _derived_rows(shared_data, 1)
    full_sparse, derived_sparse = _derived_rows(shared_data, 4)
    # The exchanged full-frame hashes stay on every frame; only the derived views thin out.
    assert full_sparse == full_dense
    views_per_frame = derived_dense // full_dense
    assert views_per_frame > 1 and derived_dense == views_per_frame * full_dense
    assert derived_sparse == views_per_frame * -(-full_dense // 4)  # frames 0, 4, 8, ...
