from __future__ import annotations

from pathlib import Path

import pytest

from hashes.types import VideoMatch
from triage.bench.manifest import QueryEntry
from triage.bench.scoring import QueryOutcome, score, zero_fp_threshold
from triage.models import Verdict
from triage.verdicts import VerdictPolicy

POLICY = VerdictPolicy(confirm_at=0.6, review_at=0.3)


def outcome(
    family: str, expect: str | None, *scored: tuple[str, float], hard: bool = False
) -> QueryOutcome:
    matches = tuple(
        VideoMatch(reference_id=ref, score=s, matched_seconds=1.0, query_coverage=1.0,
                   reference_coverage=1.0)
        for ref, s in sorted(scored, key=lambda pair: -pair[1])
    )  # fmt: skip
    query = QueryEntry(id=f"q{len(scored)}", path=Path("q.mp4"), expect=expect, family=family,
                       hard_negative=hard)  # fmt: skip
    best = matches[0].score if matches else None
    return QueryOutcome(query=query, matches=matches, verdict=POLICY.decide(best))


def test_found_needs_confirmed_verdict_on_expected_reference() -> None:
    assert outcome("crop", "a", ("a", 0.9)).found
    assert not outcome("crop", "a", ("a", 0.5)).found  # only review
    assert not outcome("crop", "a", ("b", 0.9), ("a", 0.7)).found  # best is the wrong one


def test_confirmed_on_wrong_reference_is_a_false_positive() -> None:
    wrong = outcome("crop", "a", ("b", 0.9), ("a", 0.7))
    assert wrong.false_positive
    assert outcome("unrelated", None, ("a", 0.6)).false_positive
    assert not outcome("unrelated", None, ("a", 0.59)).false_positive


def test_rows_count_recall_review_and_false_positives_per_family() -> None:
    outcomes = [
        outcome("crop", "a", ("a", 0.9)),
        outcome("crop", "a", ("a", 0.4)),
        outcome("crop", "a"),
        outcome("hflip", "b", ("a", 0.8)),
        outcome("unrelated", None, ("a", 0.35)),
        outcome("unrelated", None),
    ]
    scores = score(outcomes)
    crop, hflip, unrelated = scores.rows
    assert (crop.family, crop.n, crop.found, crop.positives_at_review) == ("crop", 3, 1, 1)
    assert crop.recall == pytest.approx(1 / 3)
    assert (hflip.found, hflip.false_positives) == (0, 1)
    assert unrelated.recall is None
    assert (unrelated.negatives, unrelated.negatives_at_review) == (2, 1)
    assert scores.totals.false_positives == 1
    assert scores.totals.positives == 4


def test_zero_fp_threshold_is_the_best_wrong_score_and_recall_counts_above_it() -> None:
    outcomes = [
        outcome("crop", "a", ("a", 0.9)),
        outcome("crop", "a", ("a", 0.45), ("b", 0.2)),
        outcome("crop", "a", ("a", 0.3)),
        outcome("unrelated", None, ("b", 0.4)),
        outcome("hard_negative", None, ("a", 0.5), hard=True),
    ]
    assert zero_fp_threshold(outcomes) == 0.5
    scores = score(outcomes)
    assert scores.zero_fp_threshold == 0.5
    assert scores.rows[0].found_at_zero_fp == 1
    assert scores.zero_fp_threshold_without_hard == 0.4
    assert scores.totals_found_at_zero_fp_without_hard == 2


def test_negative_families_come_after_edit_families() -> None:
    outcomes = [
        outcome("unrelated", None),
        outcome("hard_negative", None, hard=True),
        outcome("zoom", "a", ("a", 0.9)),
        outcome("blur", "a", ("a", 0.9)),
    ]
    assert [r.family for r in score(outcomes).rows] == [
        "blur", "zoom", "unrelated", "hard_negative",
    ]  # fmt: skip


def test_failed_query_counts_as_not_found() -> None:
    failed = QueryOutcome(
        query=QueryEntry("q", Path("q.mp4"), "a", "crop"),
        matches=(),
        verdict=Verdict.NONE,
        error="truncated",
    )
    row = score([failed]).rows[0]
    assert (row.found, row.errors) == (0, 1)
