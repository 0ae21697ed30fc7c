from __future__ import annotations

import json
from pathlib import Path

from hashes.types import VideoMatch
from triage.bench.cost import Cost
from triage.bench.manifest import QueryEntry
from triage.bench.report import markdown, to_json
from triage.bench.results import AblationRun, BenchResult, CostSummary, InputFailure
from triage.bench.scoring import QueryOutcome, score
from triage.verdicts import VerdictPolicy

POLICY = VerdictPolicy(confirm_at=0.6, review_at=0.3)


def outcome(query_id: str, family: str, expect: str | None, best: tuple[str, float] | None,
            hard: bool = False) -> QueryOutcome:  # fmt: skip
    matches = (VideoMatch(best[0], best[1], 2.0, 1.0, 0.5),) if best is not None else ()
    query = QueryEntry(query_id, Path(f"{query_id}.mp4"), expect, family, hard)
    return QueryOutcome(query, matches, POLICY.decide(best[1] if best else None))


def result(ablation: tuple[AblationRun, ...] = ()) -> BenchResult:
    outcomes = (
        outcome("q1", "crop", "a", ("a", 0.9)),
        outcome("q2", "crop", "a", ("a", 0.4)),
        outcome("q3", "unrelated", None, ("b", 0.35)),
        outcome("q4", "hard_negative", None, ("a", 0.7), hard=True),
    )
    cost = CostSummary(Cost(4.0, 5.0), Cost(8.0, 10.0), Cost(6.0, 6.0), Cost(2.0, 3.0), 4, 2)
    return BenchResult(Path("bench"), 0.6, 0.3, outcomes, score(outcomes), cost,
                       (InputFailure(Path("bad.mp4"), "truncated"),), ablation)  # fmt: skip


def test_markdown_has_a_row_per_family_totals_and_cost_ratios() -> None:
    text = markdown(result())
    lines = text.splitlines()
    assert lines[0].startswith("| family (n) | recall |")
    assert "| crop (2) | 50% (1/2) | 1 | 0 | 50% | — | 0 |" in lines
    assert "| unrelated (1) | — | — | 0 | — | 1/1 | 0 |" in lines
    assert "| hard_negative (1) | — | — | 1 | — | 0/1 | 0 |" in lines
    assert any(line.startswith("| **all (4)** | **50% (1/2)**") for line in lines)
    assert "| queries (4): hash+match / decode floor, CPU | 0.50x (4.0 s / 8.0 s) |" in lines
    assert "| references (2): hash / decode floor, wall | 2.00x (6.0 s / 3.0 s) |" in lines
    assert "| false positives (negatives + wrong reference) | 1 (1+0), of which hard " \
        "negatives: 1 |" in lines  # fmt: skip


def test_json_carries_rows_totals_cost_queries_and_failures() -> None:
    document = json.loads(to_json(result()))
    assert [row["family"] for row in document["families"]] == [
        "crop", "unrelated", "hard_negative",
    ]  # fmt: skip
    assert document["totals"]["found"] == 1
    assert document["zero_fp_threshold"] == 0.7
    assert document["cost"]["queries"]["cpu_ratio"] == 0.5
    assert document["cost"]["references"]["count"] == 2
    assert document["queries"][1]["verdict"] == "review"
    assert document["failures"] == [{"path": "bad.mp4", "problem": "truncated"}]
    assert "ablation" not in document


def test_ablation_table_lists_each_variant_per_family() -> None:
    base = result()
    weaker = score((outcome("q1", "crop", "a", ("a", 0.4)),))
    runs = (
        AblationRun("default", None, base.scores, Cost(4.0, 5.0), Cost(4.0, 5.0).ratio_to(
            Cost(8.0, 10.0))),
        AblationRun("no_crops", "query.use_crops", weaker, Cost(2.0, 2.5),
                    Cost(2.0, 2.5).ratio_to(Cost(8.0, 10.0))),
    )  # fmt: skip
    text = markdown(result(runs))
    assert "| family (n) | default | no_crops |" in text
    assert "| crop (2) | 50% | 0% |" in text
    assert "| queries / decode floor (CPU) | 0.50x | 0.25x |" in text
    assert json.loads(to_json(result(runs)))["ablation"][1]["switch"] == "query.use_crops"
