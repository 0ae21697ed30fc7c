"""`triage bench --through-service`: the offline run beside the service's two ways in."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from triage.bench.manifest import Manifest
from triage.bench.report import outcome_json, paths_markdown, row_json
from triage.bench.results import BenchResult
from triage.bench.scoring import QueryOutcome, score
from triage.bench.service import Disagreement, ReferenceInput, disagreements, run_through_service

PATH_NAMES = {
    ReferenceInput.VIDEO: "service, references uploaded as video",
    ReferenceInput.JSONL: "service, references imported as JSONL",
}


@dataclass(frozen=True, slots=True)
class ServiceComparison:
    outcomes: dict[ReferenceInput, tuple[QueryOutcome, ...]]
    disagreements: dict[ReferenceInput, list[Disagreement]]
    markdown: str

    @property
    def disagreeing(self) -> int:
        return sum(len(found) for found in self.disagreements.values())

    def as_json(self) -> dict[str, Any]:
        return {
            how.value: {
                "path": PATH_NAMES[how],
                "totals": row_json(score(self.outcomes[how]).totals),
                "queries": [outcome_json(o) for o in self.outcomes[how]],
                "disagreements": [
                    {"id": d.query_id, "offline": d.offline, "service": d.service}
                    for d in self.disagreements[how]
                ],
            }
            for how in self.outcomes
        }


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def compare_with_service(
    manifest: Manifest,
    offline: BenchResult,
    *,
    progress: bool = True,
    settings_file: Path | None = None,
) -> ServiceComparison:
    """Every query through a real `triage serve` (with the settings the offline run read from
    `settings_file`, the shipped ones when None), once per way references go in, compared
    query by query with the offline run: verdict, best reference, score within 1%."""
    outcomes: dict[ReferenceInput, tuple[QueryOutcome, ...]] = {}
    found: dict[ReferenceInput, list[Disagreement]] = {}
    for how in ReferenceInput:
        with tqdm(total=len(manifest.queries), desc=PATH_NAMES[how], unit="query",
                  file=sys.stderr, disable=not progress, leave=False) as bar:  # fmt: skip
            outcomes[how] = asyncio.run(
                run_through_service(
                    manifest, how, _say, lambda: bar.update(), settings_file=settings_file
                )
            )
        found[how] = disagreements(offline.outcomes, outcomes[how], offline.review_at)
    runs = [("offline (`triage bench`)", offline.scores)]
    runs += [(PATH_NAMES[how], score(outcomes[how])) for how in ReferenceInput]
    lines = ["Offline and through the service, recall per family:", "", paths_markdown(runs)]
    for how in ReferenceInput:
        lines.append(
            f"{PATH_NAMES[how]}: {len(found[how])} of {len(manifest.queries)} queries disagree "
            "with the offline run (verdict, best reference, or score beyond 1%)."
        )
        lines += [f"- {d.query_id}: offline {d.offline}; service {d.service}" for d in found[how]]
    return ServiceComparison(outcomes, found, "\n".join(lines) + "\n")
