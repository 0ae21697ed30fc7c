"""What one bench run produced: per-query outcomes, their scores, and what they cost."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from triage.bench.cost import Cost, Ratio
from triage.bench.scoring import QueryOutcome, Scores


@dataclass(frozen=True, slots=True)
class InputFailure:
    path: Path
    problem: str


@dataclass(frozen=True, slots=True)
class CostSummary:
    """Query hashing+matching and reference hashing, each beside its own decode floor."""

    queries: Cost
    query_floor: Cost
    references: Cost
    reference_floor: Cost
    query_count: int
    reference_count: int

    @property
    def query_ratio(self) -> Ratio:
        return self.queries.ratio_to(self.query_floor)

    @property
    def reference_ratio(self) -> Ratio:
        return self.references.ratio_to(self.reference_floor)


@dataclass(frozen=True, slots=True)
class AblationRun:
    """The query side re-run with one mechanism switched (`switch` None: the default)."""

    name: str
    switch: str | None
    scores: Scores
    queries: Cost
    query_ratio: Ratio


@dataclass(frozen=True, slots=True)
class BenchResult:
    bench_dir: Path
    confirm_at: float
    review_at: float
    outcomes: tuple[QueryOutcome, ...]
    scores: Scores
    cost: CostSummary
    failures: tuple[InputFailure, ...]
    ablation: tuple[AblationRun, ...] = ()
