"""The README stays an entry page; details live in docs/."""

from __future__ import annotations

import pytest

from tests.conftest import REPO_ROOT

README_MAX_LINES = 200


@pytest.mark.xfail(strict=False, reason="README rewrite in progress")
def test_readme_has_at_most_200_lines() -> None:
    lines = (REPO_ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES
