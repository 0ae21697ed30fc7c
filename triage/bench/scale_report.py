"""`triage bench scale` figures as a Markdown table or one JSON document."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from triage.bench.scale import SizeResult

_MIB = 1024 * 1024


def _mib(value: int) -> str:
    return f"{value / _MIB:,.0f}"


def _ratio(result: SizeResult) -> float | None:
    ratio = result.queries.ratio_to(result.query_floor)
    return ratio.cpu


def markdown(results: Sequence[SizeResult]) -> str:
    lines = [
        "| hours | index | references as | references | index rows | index MiB | PSS MiB | "
        "load adds PSS MiB | "
        "store records MiB | load s | snapshot MiB (write s, open s) | "
        "match CPU s median / max | hash+match / floor | recall | FP | "
        "negatives at review | highest negative score | retrieved within 48 bits |",
        "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        ratio = _ratio(r)
        highest = "-" if r.highest_negative_score is None else f"{r.highest_negative_score:.3f}"
        lines.append(
            f"| {r.hours:g} | {r.index} | {'vPDQ hashes' if r.hash_only else 'videos'} | "
            f"{r.references:,} | {r.index_rows:,} | "
            f"{_mib(r.index_bytes)} | "
            f"{_mib(r.after_load.pss_bytes)} | {_mib(r.load_added.pss_bytes)} | "
            f"{_mib(r.record_bytes)} | {r.load_seconds:.1f} | "
            f"{_mib(r.snapshot_bytes)} ({r.snapshot_write_seconds:.1f}, "
            f"{r.snapshot_open_seconds:.2f}) | {r.match_cpu_median_seconds:.3f} / "
            f"{r.match_cpu_max_seconds:.3f} | {'-' if ratio is None else f'{ratio:.2f}x'} | "
            f"{r.found}/{r.positives} | {r.false_positives} | "
            f"{r.negatives_at_review}/{r.negatives} | {highest} | "
            f"{r.positives_retrieved}/{r.positives_within_48_bits} |"
        )
    lines.append("")
    for r in results:
        shares = ", ".join(f"{kind} {share:.1%}" for kind, share in r.filler_shares.items())
        lines.append(
            f"- {r.hours:g} h, {r.index}: {r.queries_run} queries; filler frames: {shares}; "
            f"fillers and records made in {r.generate_seconds:.1f} s"
        )
    return "\n".join(lines) + "\n"


def to_json(results: Sequence[SizeResult]) -> str:
    return json.dumps({"sizes": [_size_json(r) for r in results]}, indent=2)


def _size_json(r: SizeResult) -> dict[str, Any]:
    return {
        "hours": r.hours,
        "index": r.index,
        "references_as": "vpdq" if r.hash_only else "video",
        "references": r.references,
        "filler_rows": r.filler_rows,
        "index_rows": r.index_rows,
        "index_bytes": r.index_bytes,
        "filler_shares": r.filler_shares,
        "generate_seconds": r.generate_seconds,
        "record_bytes": r.record_bytes,
        "load_seconds": r.load_seconds,
        "snapshot_write_seconds": r.snapshot_write_seconds,
        "snapshot_bytes": r.snapshot_bytes,
        "snapshot_open_seconds": r.snapshot_open_seconds,
        "rss_bytes": r.after_load.rss_bytes,
        "pss_bytes": r.after_load.pss_bytes,
        "load_added_rss_bytes": r.load_added.rss_bytes,
        "load_added_pss_bytes": r.load_added.pss_bytes,
        "match_cpu_median_seconds": r.match_cpu_median_seconds,
        "match_cpu_max_seconds": r.match_cpu_max_seconds,
        "queries_cpu_seconds": round(r.queries.cpu_seconds, 3),
        "query_floor_cpu_seconds": round(r.query_floor.cpu_seconds, 3),
        "hash_match_to_floor_cpu": _ratio(r),
        "queries": r.queries_run,
        "found": r.found,
        "positives": r.positives,
        "false_positives": r.false_positives,
        "negatives": r.negatives,
        "negatives_at_review": r.negatives_at_review,
        "highest_negative_score": r.highest_negative_score,
        "positives_within_48_bits": r.positives_within_48_bits,
        "positives_retrieved": r.positives_retrieved,
        "top_matches": {
            o.query.id: [[m.reference_id, m.score] for m in o.matches[:3]] for o in r.outcomes
        },
    }
