from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from triage.devset.build import build
from triage.devset.ffmpeg import DevsetError
from triage.devset.plan import plan_edits, plan_footage, plan_later_edits
from triage.devset.recipes import FAMILIES, LATER_FAMILIES


def test_every_family_gets_distinct_references_and_negatives_expect_nothing() -> None:
    rng = np.random.default_rng(0)
    references, unrelated, hard = plan_footage(rng, Path("sources"))
    edits = plan_edits(rng, references, unrelated, hard, per_family=3)
    for family in LATER_FAMILIES:
        edits += plan_later_edits(rng, references, per_family=3, family=family)
    for family in FAMILIES:
        bases = [base for base, _, fam, _, _ in edits if fam == family]
        assert len(bases) == 3 and len(set(bases)) == 3
    negatives = [e for e in edits if e[2] in ("unrelated", "hard_negative")]
    assert negatives and all(expect is None for _, _, _, expect, _ in negatives)
    assert all(is_hard == (fam == "hard_negative") for _, _, fam, _, is_hard in edits)
    ids = [f.id for f in [*references, *unrelated, *hard]]
    assert len(ids) == len(set(ids))
    assert 8 <= len(references) <= 12
    assert all(f.family == "hard_negative" for f in hard)


def test_families_added_later_leave_the_earlier_draws_as_they_were() -> None:
    """The edits of `LATER_FAMILIES` are drawn after the others, so a development set built
    before they existed is built again the same, with them after it."""
    rng = np.random.default_rng(11)
    references, unrelated, hard = plan_footage(rng, Path("sources"))
    edits = plan_edits(rng, references, unrelated, hard, per_family=3)
    without_later = [family for family in FAMILIES if family not in LATER_FAMILIES]
    assert [family for _, _, family, _, _ in edits if family in FAMILIES] == [
        family for family in without_later for _ in range(3)
    ]
    for family in LATER_FAMILIES:
        later = plan_later_edits(rng, references, per_family=3, family=family)
        assert [recipe for _, recipe, _, _, _ in later] == [family] * 3


def test_plan_depends_only_on_the_seed() -> None:
    def plan(seed: int) -> list[tuple[str, str, str, str | None, bool]]:
        rng = np.random.default_rng(seed)
        return plan_edits(rng, *plan_footage(rng, Path("s")), per_family=2)

    assert plan(5) == plan(5)
    assert plan(5) != plan(6)


def test_missing_sources_are_named(tmp_path: Path) -> None:
    with pytest.raises(DevsetError, match=r"te-chair-orig-22-sd-bar\.mp4"):
        build(tmp_path / "out", tmp_path, progress=False)
