"""From each query's matches and verdict to per-family rates.

A query that must match counts as found only when its verdict is `confirmed` AND its best
match is the expected reference. A false positive is a `confirmed` verdict on a query that
must match nothing, or on a reference other than the expected one.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from hashes.types import VideoMatch
from triage.bench.manifest import QueryEntry
from triage.models import Verdict

NEGATIVE_FAMILIES_ORDER = ("unrelated", "hard_negative")


@dataclass(frozen=True, slots=True)
class QueryOutcome:
    """What the matcher said about one query; `error` is set when the query failed."""

    query: QueryEntry
    matches: tuple[VideoMatch, ...]
    verdict: Verdict
    error: str | None = None

    @property
    def best(self) -> VideoMatch | None:
        return self.matches[0] if self.matches else None

    @property
    def found(self) -> bool:
        best = self.best
        return (
            self.query.must_match
            and self.verdict is Verdict.CONFIRMED
            and best is not None
            and best.reference_id == self.query.expect
        )

    @property
    def false_positive(self) -> bool:
        best = self.best
        if self.verdict is not Verdict.CONFIRMED or best is None:
            return False
        return best.reference_id != self.query.expect

    @property
    def expected_score(self) -> float | None:
        """The score of the expected reference (None: not matched, or a negative)."""
        for match in self.matches:
            if match.reference_id == self.query.expect:
                return match.score
        return None

    @property
    def wrong_score(self) -> float | None:
        """The best score of any reference this query must not match."""
        scores = [m.score for m in self.matches if m.reference_id != self.query.expect]
        return max(scores) if scores else None


@dataclass(frozen=True, slots=True)
class FamilyRow:
    """Counts for one edit family (or the totals). Rates are None where they do not apply."""

    family: str
    n: int
    positives: int
    found: int
    positives_at_review: int
    false_positives: int
    found_at_zero_fp: int
    negatives: int
    negatives_at_review: int
    hard_negatives: int
    hard_negative_false_positives: int
    errors: int

    @property
    def recall(self) -> float | None:
        return self.found / self.positives if self.positives else None

    @property
    def recall_at_zero_fp(self) -> float | None:
        return self.found_at_zero_fp / self.positives if self.positives else None


@dataclass(frozen=True, slots=True)
class Scores:
    rows: tuple[FamilyRow, ...]
    totals: FamilyRow
    zero_fp_threshold: float  # the strictest scores must be strictly above this
    zero_fp_threshold_without_hard: float
    totals_found_at_zero_fp_without_hard: int


def zero_fp_threshold(outcomes: Iterable[QueryOutcome], *, include_hard: bool = True) -> float:
    """The highest score any negative or wrong reference reached (0 when none matched).

    Every score strictly above it is free of false positives, so it is the strictest
    threshold that admits none: recall there is the best any threshold could give.
    """
    worst = 0.0
    for outcome in outcomes:
        if outcome.query.hard_negative and not include_hard:
            continue
        wrong = outcome.wrong_score
        if wrong is not None and math.isfinite(wrong):
            worst = max(worst, wrong)
    return worst


def _found_above(outcome: QueryOutcome, threshold: float) -> bool:
    score = outcome.expected_score
    return outcome.query.must_match and score is not None and score > threshold


def _row(family: str, outcomes: Sequence[QueryOutcome], threshold: float) -> FamilyRow:
    positives = [o for o in outcomes if o.query.must_match]
    negatives = [o for o in outcomes if not o.query.must_match]
    hard = [o for o in outcomes if o.query.hard_negative]
    return FamilyRow(
        family=family,
        n=len(outcomes),
        positives=len(positives),
        found=sum(o.found for o in positives),
        positives_at_review=sum(o.verdict is Verdict.REVIEW for o in positives),
        false_positives=sum(o.false_positive for o in outcomes),
        found_at_zero_fp=sum(_found_above(o, threshold) for o in positives),
        negatives=len(negatives),
        negatives_at_review=sum(o.verdict is Verdict.REVIEW for o in negatives),
        hard_negatives=len(hard),
        hard_negative_false_positives=sum(o.false_positive for o in hard),
        errors=sum(o.error is not None for o in outcomes),
    )


def _family_order(family: str) -> tuple[int, str]:
    if family in NEGATIVE_FAMILIES_ORDER:
        return (1 + NEGATIVE_FAMILIES_ORDER.index(family), family)
    return (0, family)


def score(outcomes: Sequence[QueryOutcome]) -> Scores:
    """Per-family rows (edit families by name, then the negative families) and totals."""
    threshold = zero_fp_threshold(outcomes)
    threshold_soft = zero_fp_threshold(outcomes, include_hard=False)
    by_family: dict[str, list[QueryOutcome]] = {}
    for outcome in outcomes:
        by_family.setdefault(outcome.query.family, []).append(outcome)
    rows = tuple(
        _row(family, by_family[family], threshold)
        for family in sorted(by_family, key=_family_order)
    )
    soft = [o for o in outcomes if not o.query.hard_negative]
    return Scores(
        rows=rows,
        totals=_row("all", outcomes, threshold),
        zero_fp_threshold=threshold,
        zero_fp_threshold_without_hard=threshold_soft,
        totals_found_at_zero_fp_without_hard=sum(_found_above(o, threshold_soft) for o in soft),
    )
