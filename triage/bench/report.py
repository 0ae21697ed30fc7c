"""Bench results as Markdown tables (pasteable into the README) or as one JSON document."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from triage.bench.cost import Cost, Ratio
from triage.bench.results import AblationRun, BenchResult
from triage.bench.scoring import FamilyRow, QueryOutcome, Scores

DASH = "—"


def _percent(value: float | None) -> str:
    if value is None:
        return DASH
    shown = f"{value:.0%}"
    # 199 of 200 is not 100%, nor 1 of 300 0%: a decimal when rounding would hide a miss or a find.
    if (shown == "100%" and value < 1) or (shown == "0%" and value > 0):
        shown = f"{value:.1%}"
    return shown


def _times(value: float | None) -> str:
    return DASH if value is None else f"{value:.2f}x"


def _family_line(row: FamilyRow, bold: bool = False) -> str:
    cells = [
        f"{row.family} ({row.n})",
        f"{_percent(row.recall)} ({row.found}/{row.positives})" if row.positives else DASH,
        str(row.positives_at_review) if row.positives else DASH,
        str(row.false_positives),
        _percent(row.recall_at_zero_fp),
        f"{row.negatives_at_review}/{row.negatives}" if row.negatives else DASH,
        str(row.errors),
    ]
    if bold:
        cells = [f"**{c}**" for c in cells]
    return "| " + " | ".join(cells) + " |"


def _cost_cell(cost: Cost, floor: Cost, ratio: Ratio) -> tuple[str, str]:
    cpu = f"{_times(ratio.cpu)} ({cost.cpu_seconds:.1f} s / {floor.cpu_seconds:.1f} s)"
    wall = f"{_times(ratio.wall)} ({cost.wall_seconds:.1f} s / {floor.wall_seconds:.1f} s)"
    return cpu, wall


def family_table(scores: Scores) -> list[str]:
    """Per family: recall, positives at review, false positives, recall at zero FP,
    negatives at review, failures; then the totals."""
    lines = [
        "| family (n) | recall | at review | false positives | recall at zero FP "
        "| negatives at review | failed |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [_family_line(row) for row in scores.rows]
    lines.append(_family_line(scores.totals, bold=True))
    return lines


def paths_markdown(runs: Sequence[tuple[str, Scores]]) -> str:
    """Recall per family on each path (offline, through the service...), then false
    positives and negatives at review."""
    header = "| family (n) | " + " | ".join(name for name, _ in runs) + " |"
    lines = [header, "|---|" + "---|" * len(runs)]
    for row in runs[0][1].rows:
        cells = []
        for _, scores in runs:
            same = next((r for r in scores.rows if r.family == row.family), None)
            if same is None:
                cells.append(DASH)
            elif same.positives:
                cells.append(f"{_percent(same.recall)} ({same.found}/{same.positives})")
            else:
                cells.append(f"{same.negatives_at_review}/{same.negatives} at review")
        lines.append(f"| {row.family} ({row.n}) | " + " | ".join(cells) + " |")
    totals = [scores.totals for _, scores in runs]
    lines.append(
        f"| **all ({totals[0].positives})** | "
        + " | ".join(f"**{_percent(t.recall)} ({t.found}/{t.positives})**" for t in totals)
        + " |"
    )
    lines.append("| false positives | " + " | ".join(str(t.false_positives) for t in totals) + " |")
    lines.append(
        "| negatives at review | "
        + " | ".join(f"{t.negatives_at_review}/{t.negatives}" for t in totals)
        + " |"
    )
    lines.append("| failed | " + " | ".join(str(t.errors) for t in totals) + " |")
    return "\n".join(lines) + "\n"


def markdown(result: BenchResult) -> str:
    scores = result.scores
    totals = scores.totals
    lines = family_table(scores)
    cost = result.cost
    query_cpu, query_wall = _cost_cell(cost.queries, cost.query_floor, cost.query_ratio)
    ref_cpu, ref_wall = _cost_cell(cost.references, cost.reference_floor, cost.reference_ratio)
    soft_recall = (
        scores.totals_found_at_zero_fp_without_hard / totals.positives if totals.positives else None
    )
    wrong_ref = totals.false_positives - sum(o.false_positive for o in _negatives(result))
    summary = [
        ("policy (confirmed at / review at)", f"{result.confirm_at:g} / {result.review_at:g}"),
        (
            "false positives (negatives + wrong reference)",
            f"{totals.false_positives} ({totals.false_positives - wrong_ref}+{wrong_ref}), "
            f"of which hard negatives: {totals.hard_negative_false_positives}",
        ),
        ("negatives left at review", f"{totals.negatives_at_review} of {totals.negatives}"),
        ("zero-FP threshold (score >)", f"{scores.zero_fp_threshold:.4g}"),
        ("recall at zero FP without hard negatives", _percent(soft_recall)),
        (f"queries ({cost.query_count}): hash+match / decode floor, CPU", query_cpu),
        (f"queries ({cost.query_count}): hash+match / decode floor, wall", query_wall),
        (f"references ({cost.reference_count}): hash / decode floor, CPU", ref_cpu),
        (f"references ({cost.reference_count}): hash / decode floor, wall", ref_wall),
        ("failed inputs", str(len(result.failures))),
    ]
    lines += ["", "| measure | value |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in summary]
    if result.ablation:
        lines += ["", ablation_markdown(result.ablation)]
    return "\n".join(lines) + "\n"


def _negatives(result: BenchResult) -> list[QueryOutcome]:
    return [o for o in result.outcomes if not o.query.must_match]


def ablation_markdown(runs: tuple[AblationRun, ...]) -> str:
    """Recall per family (default policy) for each variant, then FPs and the CPU ratio."""
    families = [row.family for row in runs[0].scores.rows if row.positives]
    header = "| family (n) | " + " | ".join(run.name for run in runs) + " |"
    lines = [header, "|---|" + "---|" * len(runs)]
    for family in families:
        rows = [next((r for r in run.scores.rows if r.family == family), None) for run in runs]
        n = next(r.n for r in rows if r is not None)
        cells = [_percent(r.recall) if r is not None else DASH for r in rows]
        lines.append(f"| {family} ({n}) | " + " | ".join(cells) + " |")
    lines.append(
        f"| **all ({runs[0].scores.totals.positives})** | "
        + " | ".join(f"**{_percent(run.scores.totals.recall)}**" for run in runs)
        + " |"
    )
    lines.append(
        "| false positives | "
        + " | ".join(str(run.scores.totals.false_positives) for run in runs)
        + " |"
    )
    lines.append(
        "| negatives at review | "
        + " | ".join(str(run.scores.totals.negatives_at_review) for run in runs)
        + " |"
    )
    lines.append(
        "| queries / decode floor (CPU) | "
        + " | ".join(_times(run.query_ratio.cpu) for run in runs)
        + " |"
    )
    return "\n".join(lines)


def row_json(row: FamilyRow) -> dict[str, Any]:
    return {
        "family": row.family,
        "n": row.n,
        "positives": row.positives,
        "found": row.found,
        "recall": row.recall,
        "positives_at_review": row.positives_at_review,
        "false_positives": row.false_positives,
        "found_at_zero_fp": row.found_at_zero_fp,
        "recall_at_zero_fp": row.recall_at_zero_fp,
        "negatives": row.negatives,
        "negatives_at_review": row.negatives_at_review,
        "hard_negatives": row.hard_negatives,
        "hard_negative_false_positives": row.hard_negative_false_positives,
        "failed": row.errors,
    }


def _cost_json(cost: Cost, floor: Cost) -> dict[str, Any]:
    ratio = cost.ratio_to(floor)
    return {
        "cpu_seconds": cost.cpu_seconds,
        "wall_seconds": cost.wall_seconds,
        "decode_floor_cpu_seconds": floor.cpu_seconds,
        "decode_floor_wall_seconds": floor.wall_seconds,
        "cpu_ratio": ratio.cpu,
        "wall_ratio": ratio.wall,
    }


def outcome_json(outcome: QueryOutcome) -> dict[str, Any]:
    best = outcome.best
    return {
        "id": outcome.query.id,
        "path": str(outcome.query.path),
        "family": outcome.query.family,
        "expect": outcome.query.expect,
        "hard_negative": outcome.query.hard_negative,
        "verdict": outcome.verdict.value,
        "best_reference": best.reference_id if best else None,
        "best_score": best.score if best else None,
        "expected_score": outcome.expected_score,
        "wrong_score": outcome.wrong_score,
        "found": outcome.found,
        "false_positive": outcome.false_positive,
        "error": outcome.error,
    }


def to_json(result: BenchResult) -> str:
    scores = result.scores
    document: dict[str, Any] = {
        "bench_dir": str(result.bench_dir),
        "policy": {"confirm_at": result.confirm_at, "review_at": result.review_at},
        "families": [row_json(row) for row in scores.rows],
        "totals": row_json(scores.totals),
        "zero_fp_threshold": scores.zero_fp_threshold,
        "zero_fp_threshold_without_hard_negatives": scores.zero_fp_threshold_without_hard,
        "cost": {
            "queries": {"count": result.cost.query_count}
            | _cost_json(result.cost.queries, result.cost.query_floor),
            "references": {"count": result.cost.reference_count}
            | _cost_json(result.cost.references, result.cost.reference_floor),
        },
        "queries": [outcome_json(o) for o in result.outcomes],
        "failures": [{"path": str(f.path), "problem": f.problem} for f in result.failures],
    }
    if result.ablation:
        document["ablation"] = [
            {
                "name": run.name,
                "switch": run.switch,
                "families": [row_json(row) for row in run.scores.rows],
                "totals": row_json(run.scores.totals),
                "cpu_seconds": run.queries.cpu_seconds,
                "wall_seconds": run.queries.wall_seconds,
                "cpu_ratio": run.query_ratio.cpu,
                "wall_ratio": run.query_ratio.wall,
            }
            for run in result.ablation
        ]
    return json.dumps(document, indent=2)
