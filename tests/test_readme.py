"""The README stays an entry page; details live in docs/."""

from __future__ import annotations

import re

from tests.conftest import REPO_ROOT

README_MAX_LINES = 200


def test_readme_has_at_most_200_lines() -> None:
    lines = (REPO_ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines"


def test_readme_links_point_at_files_that_exist() -> None:
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    targets = {t.split("#")[0] for t in re.findall(r"\]\(([^)#][^)]*)\)", text)}
    missing = [t for t in targets if "://" not in t and not (REPO_ROOT / t).exists()]
    assert missing == []
