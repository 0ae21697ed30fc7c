"""Build the development set: references, edited queries, unrelated and hard negatives.

Every random choice comes from `seed`: footage parameters are drawn while planning, and each
edited query gets its own generator, so the set does not depend on the order jobs finish in.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from triage.devset.ffmpeg import Clip, DevsetError, run
from triage.devset.graph import Graph
from triage.devset.plan import REQUIRED_SOURCES, plan_edits, plan_footage, plan_later_edits
from triage.devset.recipes import FAMILIES, LATER_FAMILIES, Context


@dataclass(frozen=True, slots=True)
class EditJob:
    """A query made by editing one clip of phase one with a family's recipe."""

    id: str
    base: str  # id of the clip it edits
    recipe: str
    family: str
    expect: str | None
    hard_negative: bool
    seed: int


@dataclass(frozen=True, slots=True)
class BuildReport:
    out_dir: Path
    references: int
    queries: int
    families: dict[str, int]
    seconds: float


def _apply(job: EditJob, base: Clip, fillers: Sequence[Clip], out: Path, assets: Path) -> str:
    graph = Graph(assets)
    stream = graph.clip(base)
    rng = np.random.default_rng(job.seed)
    edited, description = FAMILIES[job.recipe](graph, stream, rng, Context(fillers))
    run(graph.command(edited, out))
    return description


def _check_sources(sources: Path) -> None:
    missing = [name for name in REQUIRED_SOURCES if not (sources / name).is_file()]
    if missing:
        raise DevsetError(f"{sources}: missing source clips: {', '.join(missing)}")


def build(out_dir: Path, sources: Path, *, seed: int = 0, per_family: int = 3,
          jobs: int | None = None, progress: bool = True) -> BuildReport:  # fmt: skip
    """Write `out_dir/{references,queries}/*.mp4` and `out_dir/manifest.json`."""
    started = time.perf_counter()
    _check_sources(sources)
    rng = np.random.default_rng(seed)
    references, unrelated, hard = plan_footage(rng, sources)
    edits = plan_edits(rng, references, unrelated, hard, per_family)
    # A half-built set must not pass for a whole one: the manifest is written last.
    (out_dir / "manifest.json").unlink(missing_ok=True)
    for folder in ("references", "queries"):
        shutil.rmtree(out_dir / folder, ignore_errors=True)
        (out_dir / folder).mkdir(parents=True, exist_ok=True)
    workers = jobs or min(4, os.cpu_count() or 2)

    # Phase one: footage. Negatives shown as they are get their query id now.
    plain = [*unrelated, *hard]
    query_ids = {item.id: f"q-{i + 1:04d}" for i, item in enumerate(plain)}
    edit_jobs = [
        EditJob(f"q-{len(plain) + i + 1:04d}", base, recipe, family, expect, is_hard,
                int(rng.integers(0, 2**63)))
        for i, (base, recipe, family, expect, is_hard) in enumerate(edits)
    ]  # fmt: skip
    for later in LATER_FAMILIES:
        first_later = len(plain) + len(edit_jobs) + 1
        edit_jobs += [
            EditJob(f"q-{first_later + i:04d}", base, recipe, family, expect, is_hard,
                    int(rng.integers(0, 2**63)))
            for i, (base, recipe, family, expect, is_hard) in enumerate(
                plan_later_edits(rng, references, per_family, later))
        ]  # fmt: skip
    targets = {item.id: out_dir / "references" / f"{item.id}.mp4" for item in references}
    targets |= {item.id: out_dir / "queries" / f"{query_ids[item.id]}.mp4" for item in plain}
    makers = {item.id: item.make for item in [*references, *plain]}
    bar = tqdm(total=len(makers) + len(edit_jobs), desc="devset", unit="clip",
               file=sys.stderr, disable=not progress)  # fmt: skip
    clips: dict[str, Clip] = {}

    def make(item_id: str) -> None:
        clips[item_id] = makers[item_id](targets[item_id])
        bar.update()

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(make, makers))
    fillers = [clips[item.id] for item in unrelated if item.id != "un-gradients"]

    # Phase two: edits of phase one's clips.
    descriptions: dict[str, str] = {}
    with tempfile.TemporaryDirectory(dir=out_dir) as assets, ThreadPoolExecutor(workers) as pool:

        def edit(job: EditJob) -> None:
            out = out_dir / "queries" / f"{job.id}.mp4"
            descriptions[job.id] = _apply(job, clips[job.base], fillers, out, Path(assets))
            bar.update()

        list(pool.map(edit, edit_jobs))
    bar.close()

    sources_of = {item.id: item.source for item in [*references, *plain]}
    manifest: dict[str, Any] = {
        "seed": seed,
        "references": [
            {"id": item.id, "path": f"references/{item.id}.mp4", "source": item.source,
             "duration_s": round(clips[item.id].duration, 3)}
            for item in references
        ],
        "queries": [
            {"id": query_ids[item.id], "path": f"queries/{query_ids[item.id]}.mp4",
             "expect": None, "transform": "as_is", "family": item.family, "source": item.source,
             "hard_negative": item.family == "hard_negative"}
            for item in plain
        ] + [
            {"id": job.id, "path": f"queries/{job.id}.mp4", "expect": job.expect,
             "transform": descriptions[job.id], "family": job.family,
             "source": sources_of[job.base], "hard_negative": job.hard_negative}
            for job in edit_jobs
        ],
    }  # fmt: skip
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    families: dict[str, int] = {}
    for query in manifest["queries"]:
        families[query["family"]] = families.get(query["family"], 0) + 1
    return BuildReport(out_dir, len(references), len(manifest["queries"]), families,
                       time.perf_counter() - started)  # fmt: skip
