"""Fixtures shared by every test package."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
# The shared data sets live beside the repository, never inside it.
SHARED_DATA_DIR = REPO_ROOT / ".." / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared data folder (sources, bench, interop), read-only."""
    if not SHARED_DATA_DIR.is_dir():
        pytest.fail(f"shared data not found beside the repository: {SHARED_DATA_DIR}")
    return SHARED_DATA_DIR
