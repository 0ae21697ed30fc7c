"""`triage bench scale`: the bench's references planted among hours of filler references.

Per list size the list is written to an in-memory store as hash records and loaded into each
index asked for the way a worker loads it (a live index syncing from the store,
`LiveListFactory`); every bench query then runs through the query cascade
(`hashes.cascade.match_query`). Reported per size and index: index rows, process memory (RSS,
PSS) and what loading added, load time, matching CPU per query (median, max), hashing+matching
against the single-thread decode floor, the bench's quality (recall, false positives,
negatives at review, the highest score of any negative) and the candidate stage's recall.

A benchmark, never a test: a size's figures take minutes, and the machine's load moves them.
"""

from __future__ import annotations

import asyncio
import gc
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TypeVar

from tqdm import tqdm

from hashes.cascade import match_query
from hashes.formats.jsonl import HashListEntry, dumps_record
from hashes.index import ExactIndex, HashIndex
from hashes.index_multihash import MultiHashIndex
from hashes.matcher import Matcher, MatchParams
from hashes.types import HashError, VideoHashes, VideoMatch
from hashes.video.reference import hash_reference
from triage.bench.cost import Cost, Stopwatch, decode_floor
from triage.bench.fillers import FillerGenerator, FillerMix, FillerShape
from triage.bench.manifest import Manifest
from triage.bench.runner import Settings
from triage.bench.scoring import QueryOutcome, score
from triage.models import Verdict
from triage.store.memory import MemoryStore
from triage.store.protocol import Store

SCALE_ACTOR = "bench-scale"
RECALL_BITS = 48
_T = TypeVar("_T")


class LiveList(Protocol):
    """What the bench needs of the worker's live index: loading the list from the store, and
    writing the snapshot a starting `serve` or `worker` opens instead."""

    async def sync(self) -> int: ...

    async def save_snapshot(self, directory: Path) -> object: ...


# The worker's own wiring: a live index over `matcher.index`, matching with `matcher`.
LiveListFactory = Callable[[Store, Matcher, str], LiveList]
IndexFactory = Callable[[], HashIndex]


class TimedMatcher(Matcher):
    """The matcher, adding up the CPU seconds its searches and alignments take."""

    def __init__(self, index: HashIndex, params: MatchParams | None = None) -> None:
        super().__init__(index, params)
        self.cpu_seconds = 0.0

    def match(self, query: VideoHashes) -> list[VideoMatch]:
        start = time.process_time()
        try:
            return super().match(query)
        finally:
            self.cpu_seconds += time.process_time() - start


@dataclass(frozen=True, slots=True)
class Memory:
    rss_bytes: int
    pss_bytes: int


@dataclass(frozen=True, slots=True)
class SizeResult:
    """The figures of one list size."""

    hours: float
    index: str
    hash_only: bool  # references as full-frame hashes alone (a vPDQ import), not videos
    references: int
    filler_rows: int
    index_rows: int
    index_bytes: int  # what the index counts of its own structures
    filler_shares: dict[str, float]
    generate_seconds: float  # fillers and their hash records
    record_bytes: int  # the hash records in the store: what the list costs the store
    load_seconds: float  # the live index's first sync
    snapshot_write_seconds: float  # the index snapshot written after the first sync
    snapshot_bytes: int  # its files on disk
    snapshot_open_seconds: float  # opened again, as a starting process opens it
    before_load: Memory  # the process with the list in the store
    after_load: Memory
    match_cpu_median_seconds: float
    match_cpu_max_seconds: float
    queries: Cost  # hashing and matching every query
    query_floor: Cost
    queries_run: int
    found: int
    positives: int
    false_positives: int
    negatives: int
    negatives_at_review: int
    highest_negative_score: float | None
    # Positive queries whose hashes lie within `RECALL_BITS` of their reference somewhere,
    # and how many of those the index's candidate stage retrieves.
    positives_within_48_bits: int
    positives_retrieved: int
    outcomes: tuple[QueryOutcome, ...] = field(repr=False)

    @property
    def load_added(self) -> Memory:
        return Memory(
            self.after_load.rss_bytes - self.before_load.rss_bytes,
            self.after_load.pss_bytes - self.before_load.pss_bytes,
        )


def process_memory() -> Memory:
    """This process's resident and proportional set sizes (0 where /proc cannot tell)."""
    try:
        text = Path("/proc/self/smaps_rollup").read_text()
    except OSError:
        return Memory(0, 0)
    values = {
        key: int(kib) * 1024 for key, kib in re.findall(r"^(Rss|Pss):\s+(\d+) kB", text, re.M)
    }
    return Memory(values.get("Rss", 0), values.get("Pss", 0))


def run_scale(
    manifest: Manifest,
    settings: Settings,
    hours: Sequence[float],
    live_list: LiveListFactory,
    *,
    indexes: Mapping[str, IndexFactory] | None = None,
    mix: FillerMix | None = None,
    seed: int = 0,
    hash_only: bool = False,
    progress: bool = True,
) -> list[SizeResult]:
    """One result per size in `hours` and index in `indexes` (default: the exact index); the
    planted references are hashed once, each size's list is made once for every index, and
    each query's decode floor is measured once (it does not depend on the list).

    `hash_only`: the list as industry lists arrive, vPDQ hashes of full frames without the
    video (the planted references' full frames alone, and fillers of that shape)."""
    planted = {
        r.id: hash_reference(r.path, settings.reference_params)
        for r in _bar(manifest.references, "references", progress)
    }
    if hash_only:
        planted = {reference_id: hashes.full_frame() for reference_id, hashes in planted.items()}
    shape = FillerShape.of(list(planted.values()), settings.reference_params.derived_every)
    planted_index = ExactIndex()
    for reference_id, hashes in planted.items():
        planted_index.add(reference_id, hashes)
    run = _Run(manifest, settings, planted, planted_index, live_list, progress, hash_only)
    results = []
    for size in hours:
        generator = FillerGenerator(list(planted.values()), shape, mix or FillerMix(), seed=seed)
        store = MemoryStore()
        started = time.perf_counter()
        record_bytes = asyncio.run(_fill(store, planted, generator, size, progress))
        generate_seconds = time.perf_counter() - started
        made = _Made(store, generator, generate_seconds, record_bytes)
        for name, make_index in (indexes or {"exact": ExactIndex}).items():
            results.append(run.size(size, name, make_index, made))
            gc.collect()
    return results


@dataclass(frozen=True, slots=True)
class _Made:
    """One size's list: the store holding it, its generator's counts, what making it took."""

    store: Store
    generator: FillerGenerator
    generate_seconds: float
    record_bytes: int


@dataclass
class _Run:
    manifest: Manifest
    settings: Settings
    planted: dict[str, VideoHashes]
    planted_index: ExactIndex  # the planted references alone, for the retrieval's recall
    live_list: LiveListFactory
    progress: bool
    hash_only: bool
    floors: dict[str, Cost] = field(default_factory=dict)

    def size(
        self,
        hours: float,
        index_name: str,
        make_index: IndexFactory,
        made: _Made,
    ) -> SizeResult:
        settings, generator = self.settings, made.generator
        matcher = TimedMatcher(make_index(), settings.match_params)
        design = settings.reference_params.design
        loading = asyncio.run(_load(made.store, self.live_list, matcher, design))
        watch = Stopwatch()
        outcomes: list[QueryOutcome] = []
        match_cpu: list[float] = []
        floor = Cost()
        near, retrieved = 0, 0
        for query in _bar(self.manifest.queries, f"{index_name} at {hours:g} h", self.progress):
            if query.id not in self.floors:
                self.floors[query.id] = decode_floor([query.path])
            floor = floor + self.floors[query.id]
            matcher.cpu_seconds = 0.0
            try:
                with watch.timing():
                    outcome = match_query(query.path, matcher, settings.query_params)
            except (HashError, OSError) as exc:
                outcomes.append(QueryOutcome(query, (), Verdict.NONE, str(exc)))
                continue
            match_cpu.append(matcher.cpu_seconds)
            matches, hashes = tuple(outcome.matches), outcome.hashes
            verdict = settings.verdicts.decide(matches).verdict
            outcomes.append(QueryOutcome(query, matches, verdict))
            if query.expect is not None and self._near(query.expect, hashes):
                near += 1
                retrieved += query.expect in _retrieved(matcher.index, hashes)
        totals = score(outcomes).totals
        negative_scores = [o.best.score for o in outcomes if not o.query.must_match and o.best]
        return SizeResult(
            hours=hours,
            index=index_name,
            hash_only=self.hash_only,
            references=len(self.planted) + generator.counts.videos,
            filler_rows=generator.counts.rows,
            index_rows=len(matcher.index),
            index_bytes=matcher.index.memory_bytes(),
            filler_shares=generator.counts.shares(),
            generate_seconds=round(made.generate_seconds, 2),
            record_bytes=made.record_bytes,
            load_seconds=round(loading.load_seconds, 2),
            snapshot_write_seconds=round(loading.snapshot_write_seconds, 2),
            snapshot_bytes=loading.snapshot_bytes,
            snapshot_open_seconds=round(loading.snapshot_open_seconds, 3),
            before_load=loading.before,
            after_load=loading.after,
            match_cpu_median_seconds=round(statistics.median(match_cpu), 4) if match_cpu else 0.0,
            match_cpu_max_seconds=round(max(match_cpu), 4) if match_cpu else 0.0,
            queries=watch.total,
            query_floor=floor,
            queries_run=len(outcomes),
            found=totals.found,
            positives=totals.positives,
            false_positives=totals.false_positives,
            negatives=totals.negatives,
            negatives_at_review=totals.negatives_at_review,
            highest_negative_score=max(negative_scores) if negative_scores else None,
            positives_within_48_bits=near,
            positives_retrieved=retrieved,
            outcomes=tuple(outcomes),
        )

    def _near(self, reference_id: str, hashes: VideoHashes) -> bool:
        """Whether the query's hashes have a row within 48 bits of the reference's."""
        found = self.planted_index.search(hashes.hashes, RECALL_BITS)
        code = found.reference_ids.index(reference_id)
        return bool((found.references == code).any())


def _retrieved(index: HashIndex, hashes: VideoHashes) -> set[str]:
    """The references an index's candidate stage finds (every one, for an exact index)."""
    if isinstance(index, MultiHashIndex):
        return index.retrieved_references(hashes.hashes)
    return set(index.reference_ids())


@dataclass(frozen=True, slots=True)
class _Loading:
    load_seconds: float
    before: Memory
    after: Memory
    snapshot_write_seconds: float
    snapshot_bytes: int
    snapshot_open_seconds: float


async def _load(
    store: Store, live_list: LiveListFactory, matcher: Matcher, design: str
) -> _Loading:
    """Load the list from the store into `matcher`'s index, as a worker does; then write its
    snapshot and open it again, as the next process to start does."""
    gc.collect()
    before = process_memory()
    live = live_list(store, matcher, design)
    started = time.perf_counter()
    await live.sync()
    load_seconds = time.perf_counter() - started
    gc.collect()
    after = process_memory()
    with tempfile.TemporaryDirectory(prefix="scale-snapshot-") as work:
        directory = Path(work) / "snapshot"
        started = time.perf_counter()
        await live.save_snapshot(directory)
        write_seconds = time.perf_counter() - started
        size = sum(f.stat().st_size for f in directory.rglob("*") if f.is_file())
        started = time.perf_counter()
        opened = _open_saved(matcher.index, _saved_index_directory(directory))
        open_seconds = time.perf_counter() - started
        rows, saved = len(opened), len(matcher.index)
        if rows != saved:
            raise HashError(f"the snapshot opened with {rows} rows, not the {saved} saved")
        del opened
    return _Loading(load_seconds, before, after, write_seconds, size, open_seconds)


def _saved_index_directory(snapshot: Path) -> Path:
    """Where in a snapshot the index files lie (the one folder with a `meta.json`): the
    snapshot's layout is the worker's business."""
    (meta,) = snapshot.rglob("meta.json")
    return meta.parent


def _open_saved(index: HashIndex, directory: Path) -> HashIndex:
    """The index saved in `directory`, opened as the kind `index` is."""
    if isinstance(index, MultiHashIndex):
        return index.reopen(directory)
    return ExactIndex.open(directory)


async def _fill(
    store: Store,
    planted: dict[str, VideoHashes],
    generator: FillerGenerator,
    hours: float,
    progress: bool,
) -> int:
    """The planted references under their bench ids, then the fillers, as hash records; the
    records' bytes."""
    stored = 0
    for reference_id, hashes in planted.items():
        stored += await _add(store, reference_id, hashes)
    with tqdm(total=round(hours * 3600), desc=f"fillers for {hours:g} h", unit="s",
              file=sys.stderr, disable=not progress, leave=False) as bar:  # fmt: skip
        for number, filler in enumerate(generator.videos(hours), start=1):
            stored += await _add(store, f"filler-{number:07d}", filler.hashes)
            bar.update(round(filler.hashes.duration_seconds))
    return stored


async def _add(store: Store, reference_id: str, hashes: VideoHashes) -> int:
    record = dumps_record(HashListEntry(reference_id, hashes, label=reference_id), derived=True)
    await store.add_reference(
        label=reference_id,
        source="bench scale",
        added_by=SCALE_ACTOR,
        hash_record=record,
        frame_count=hashes.frame_count,
        duration_seconds=hashes.duration_seconds,
        reference_id=reference_id,
    )
    return len(record.encode())


def _bar(items: Sequence[_T], description: str, show: bool) -> Iterator[_T]:
    with _progress(len(items), description, show) as bar:
        for item in items:
            yield item
            bar.update()


@contextmanager
def _progress(total: int, description: str, show: bool) -> Iterator[tqdm]:  # type: ignore[type-arg]
    with tqdm(total=total, desc=description, unit="file", file=sys.stderr, disable=not show,
              leave=False) as bar:  # fmt: skip
        yield bar
