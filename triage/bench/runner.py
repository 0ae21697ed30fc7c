"""Run the matcher over a bench: hash the references, then hash and match every query.

The matcher sees file paths only; the labels stay with the scorer. Each query's hashing and
matching is timed on its own, right after the decode floor of the same file, so the ratios
compare like with like even while the machine's speed drifts. Nothing is cached between runs.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from hashes.cascade import match_query
from hashes.index import ExactIndex, HashIndex
from hashes.matcher import Matcher, MatchParams
from hashes.types import HashError
from hashes.video.params import QueryParams, ReferenceParams
from hashes.video.reference import hash_reference
from triage.bench.ablation import BASELINE_NAME, variants
from triage.bench.cost import Cost, Stopwatch, decode_floor
from triage.bench.manifest import Manifest
from triage.bench.results import AblationRun, BenchResult, CostSummary, InputFailure
from triage.bench.scoring import QueryOutcome, score
from triage.models import Verdict
from triage.verdicts import VerdictStep


@dataclass(frozen=True, slots=True)
class Settings:
    """What a bench run uses: the verdict step and the parameters of each side."""

    verdicts: VerdictStep
    reference_params: ReferenceParams = field(default_factory=ReferenceParams)
    query_params: QueryParams = field(default_factory=QueryParams)
    match_params: MatchParams = field(default_factory=MatchParams)
    # The kind of index the service is configured with (`index.kind`).
    make_index: Callable[[], HashIndex] = ExactIndex


@dataclass(frozen=True, slots=True)
class ReferenceSide:
    index: HashIndex
    cost: Cost
    failures: tuple[InputFailure, ...]


@dataclass(frozen=True, slots=True)
class QuerySide:
    outcomes: tuple[QueryOutcome, ...]
    cost: Cost
    failures: tuple[InputFailure, ...]
    floor: Cost  # the decode floor of the same files, each measured just before its query


def _bar(total: int, description: str, show: bool) -> tqdm:  # type: ignore[type-arg]
    return tqdm(total=total, desc=description, unit="file", file=sys.stderr, disable=not show,
                leave=False)  # fmt: skip


def hash_references(
    manifest: Manifest,
    params: ReferenceParams,
    *,
    progress: bool = True,
    make_index: Callable[[], HashIndex] = ExactIndex,
) -> ReferenceSide:
    index = make_index()
    watch = Stopwatch()
    failures: list[InputFailure] = []
    with _bar(len(manifest.references), "references", progress) as bar:
        for reference in manifest.references:
            try:
                with watch.timing():
                    index.add(reference.id, hash_reference(reference.path, params))
            except (HashError, OSError) as exc:
                failures.append(InputFailure(reference.path, str(exc)))
            bar.update()
    return ReferenceSide(index, watch.total, tuple(failures))


def match_queries(
    manifest: Manifest,
    index: HashIndex,
    query_params: QueryParams,
    match_params: MatchParams,
    verdicts: VerdictStep,
    *,
    progress: bool = True,
    description: str = "queries",
) -> QuerySide:
    matcher = Matcher(index, match_params)
    watch = Stopwatch()
    outcomes: list[QueryOutcome] = []
    failures: list[InputFailure] = []
    floor = Cost()
    with _bar(len(manifest.queries), description, progress) as bar:
        for query in manifest.queries:
            # File by file, so both sides meet the same machine speed and the same page
            # cache: this machine's speed drifts by 10-30% within a run.
            floor = floor + decode_floor([query.path])
            try:
                with watch.timing():
                    matches = tuple(match_query(query.path, matcher, query_params).matches)
            except (HashError, OSError) as exc:
                failures.append(InputFailure(query.path, str(exc)))
                outcomes.append(QueryOutcome(query, (), Verdict.NONE, error=str(exc)))
            else:
                verdict = verdicts.decide(matches).verdict
                outcomes.append(QueryOutcome(query, matches, verdict))
            bar.update()
    return QuerySide(tuple(outcomes), watch.total, tuple(failures), floor)


def _floor(paths: Sequence[Path], description: str, progress: bool) -> Cost:
    total = Cost()
    with _bar(len(paths), description, progress) as bar:
        for path in paths:
            total = total + decode_floor([path])
            bar.update()
    return total


def run_bench(
    manifest: Manifest, settings: Settings, *, ablate: bool = False, progress: bool = True
) -> BenchResult:
    references = hash_references(
        manifest, settings.reference_params, progress=progress, make_index=settings.make_index
    )
    reference_floor = _floor([r.path for r in manifest.references], "decode floor (refs)", progress)
    queries = match_queries(
        manifest, references.index, settings.query_params, settings.match_params,
        settings.verdicts, progress=progress,
    )  # fmt: skip
    cost = CostSummary(
        queries=queries.cost,
        query_floor=queries.floor,
        references=references.cost,
        reference_floor=reference_floor,
        query_count=len(manifest.queries),
        reference_count=len(manifest.references),
    )
    scores = score(queries.outcomes)
    ablation: tuple[AblationRun, ...] = ()
    if ablate:
        ablation = _ablation(manifest, settings, references, queries, progress)
    return BenchResult(
        bench_dir=manifest.root,
        confirm_at=settings.verdicts.policy.confirm_at,
        review_at=settings.verdicts.policy.review_at,
        outcomes=queries.outcomes,
        scores=scores,
        cost=cost,
        failures=references.failures + queries.failures,
        ablation=ablation,
    )


def _ablation(
    manifest: Manifest,
    settings: Settings,
    default_references: ReferenceSide,
    default_queries: QuerySide,
    progress: bool,
) -> tuple[AblationRun, ...]:
    """The default run, then the query side again per switched mechanism (references are
    re-hashed only for the reference-side switches), each against its own decode floor."""
    runs: list[AblationRun] = []
    for variant in variants(settings.reference_params, settings.query_params,
                            settings.match_params):  # fmt: skip
        if variant.name == BASELINE_NAME:
            side = default_queries
        else:
            index = default_references.index
            if variant.reference_params != settings.reference_params:
                index = hash_references(
                    manifest, variant.reference_params, progress=progress,
                    make_index=settings.make_index,
                ).index  # fmt: skip
            side = match_queries(
                manifest, index, variant.query_params, variant.match_params, settings.verdicts,
                progress=progress, description=variant.name,
            )  # fmt: skip
        runs.append(
            AblationRun(variant.name, variant.switch, score(side.outcomes), side.cost,
                        side.cost.ratio_to(side.floor))
        )  # fmt: skip
    return tuple(runs)
