"""`triage bench limits`: real media of the largest ordinary sizes under the hashing limits.

The media limits must stop hostile files without stopping real ones. This bench makes, with
ffmpeg from shared clips, a 2-hour 1080p video, a 40-megapixel JPEG and a 20-minute 4K
video, submits each as an upload to the real pipeline (hashing pool under the configured
limits, live index holding the clips as references), and prints per input: wall time, the
hashing child's peak memory and the verdict (or the failure). Each should be `confirmed`.
A benchmark, not a test: it takes most of an hour on a small machine.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

from hashes.formats.jsonl import HashListEntry, dumps_record
from triage.config import Settings
from triage.errors import InvalidInput
from triage.models import JobKind, JobLane
from triage.store.memory import MemoryStore
from triage.store.policy import JobPolicy
from triage.verdicts import VerdictStep
from workers.hashing.pool import HashingPool, StepReport
from workers.pipeline import Pipeline
from workers.runner import JobContext, JobFailure, LongMedia
from workers.service import live_index, media_tools

# Reference id -> shared clip. The videos are made from the first (HD, 16:9), the still
# from a frame of the second (one of the doorknob's few frames with PDQ detail is rare).
REFERENCES = {"doorknob": "te-doorknob-hd-no-bar.mp4", "chair": "te-chair-orig-22-sd-bar.mp4"}
SEGMENT_SECONDS = 10  # encoded once, then repeated without re-encoding
FRAME_RATE = 25
BENCH_LEASE_SECONDS = 24 * 3600.0


@dataclass(frozen=True, slots=True)
class BenchInput:
    name: str
    description: str
    path: Path
    reference_id: str  # the reference it is a copy of


@dataclass(frozen=True, slots=True)
class BenchRow:
    input: BenchInput
    seconds: float
    peak_memory_bytes: int
    steps: int
    outcome: str  # the verdict, or "<reason>: <detail>"


def _ffmpeg(*args: str) -> None:
    if shutil.which("ffmpeg") is None:
        raise InvalidInput("the limits bench makes its inputs with ffmpeg, which is not installed")
    done = subprocess.run(["ffmpeg", "-v", "error", "-y", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise InvalidInput(f"ffmpeg could not make a bench input: {done.stderr.strip()[-500:]}")


def _looped(clip: Path, out: Path, size: str, seconds: int) -> None:
    if out.is_file():
        return
    segment = out.with_suffix(".segment.mp4")
    _ffmpeg("-stream_loop", "-1", "-i", str(clip), "-t", str(SEGMENT_SECONDS),
            "-vf", f"scale={size},fps={FRAME_RATE}", "-c:v", "libx264", "-preset", "fast",
            "-pix_fmt", "yuv420p", "-an", str(segment))  # fmt: skip
    part = out.with_suffix(".part.mp4")
    _ffmpeg("-stream_loop", "-1", "-i", str(segment), "-t", str(seconds), "-c", "copy",
            str(part))  # fmt: skip
    part.replace(out)
    segment.unlink()


def _excerpt(video: Path, seconds: int | None) -> tuple[Path, str]:
    """`video`, or its first `seconds` (copied, not re-encoded), with a note saying so."""
    if seconds is None:
        return video, ""
    out = video.with_name(f"first-{seconds}s-{video.name}")
    if not out.is_file():
        _ffmpeg("-i", str(video), "-t", str(seconds), "-c", "copy", str(out))
    return out, f"; its first {seconds} s only"


INPUT_NAMES = ("40mp-jpeg", "20min-4k", "2h-1080p")


def make_inputs(
    sources_dir: Path,
    work_dir: Path,
    excerpt_seconds: int | None = None,
    only: frozenset[str] = frozenset(),
) -> list[BenchInput]:
    """The inputs named in `only` (all three if empty) in `work_dir`, made once and kept for
    the next run. With `excerpt_seconds`, the videos are cut to that length (for a machine too
    slow for hours)."""
    work_dir.mkdir(parents=True, exist_ok=True)
    video_clip = sources_dir / REFERENCES["doorknob"]
    wanted = [name for name in INPUT_NAMES if not only or name in only]
    inputs = []
    for name in wanted:
        if name == "40mp-jpeg":
            still = work_dir / "still-40mp.jpg"
            if not still.is_file():
                # 40 megapixels whatever the clip's shape.
                size = "w='trunc(sqrt(40000000*iw/ih)/2)*2':h=-2"
                _ffmpeg("-ss", "2", "-i", str(sources_dir / REFERENCES["chair"]),
                        "-frames:v", "1", "-vf", f"scale={size}", "-q:v", "2",
                        str(still))  # fmt: skip
            inputs.append(BenchInput(name, "JPEG of 40 megapixels", still, "chair"))
        elif name == "20min-4k":
            clip_4k = work_dir / "twenty-minutes-4k.mp4"
            _looped(video_clip, clip_4k, "3840:2160", 20 * 60)
            clip_4k, cut_4k = _excerpt(clip_4k, excerpt_seconds)
            description = f"3840x2160, 20 min at {FRAME_RATE} fps{cut_4k}"
            inputs.append(BenchInput(name, description, clip_4k, "doorknob"))
        else:
            long_1080p = work_dir / "two-hours-1080p.mp4"
            _looped(video_clip, long_1080p, "1920:1080", 2 * 3600)
            long_1080p, cut_1080p = _excerpt(long_1080p, excerpt_seconds)
            description = f"1920x1080, 2 h at {FRAME_RATE} fps{cut_1080p}"
            inputs.append(BenchInput(name, description, long_1080p, "doorknob"))
    return inputs


async def run_limits_bench(
    settings: Settings,
    sources_dir: Path,
    work_dir: Path,
    only: frozenset[str] = frozenset(),
    excerpt_seconds: int | None = None,
) -> list[BenchRow]:
    """Each input (those named in `only`, if any) through the real pipeline under
    `settings.hashing`; one row per input."""
    inputs = make_inputs(sources_dir, work_dir, excerpt_seconds, only)
    # No heartbeat runs here: the bench holds each job for as long as a step may take.
    policy = replace(JobPolicy.from_settings(settings.jobs), lease_seconds=BENCH_LEASE_SECONDS)
    store = MemoryStore(policy=policy)
    steps: list[StepReport] = []
    pool = HashingPool(settings.hashing, 1, observer=steps.append)
    tools = media_tools(settings)
    pipeline = Pipeline(
        store, live_index(store, settings), tools, settings, pool,
        VerdictStep.from_settings(settings),
    )  # fmt: skip
    try:
        for reference_id, clip in REFERENCES.items():
            hashes = await pool.run(tools.hash_reference, sources_dir / clip)
            await store.add_reference(
                label=reference_id,
                source="bench",
                added_by="bench",
                hash_record=dumps_record(HashListEntry(reference_id=reference_id, hashes=hashes)),
                reference_id=reference_id,
            )
        rows = []
        for item in inputs:
            steps.clear()
            rows.append(await _one(store, pipeline, settings, item, steps))
            print(f"{item.name}: {rows[-1].outcome} in {rows[-1].seconds:.0f} s",
                  file=sys.stderr, flush=True)  # fmt: skip
        return rows
    finally:
        await pool.close()


async def _one(
    store: MemoryStore,
    pipeline: Pipeline,
    settings: Settings,
    item: BenchInput,
    steps: list[StepReport],
) -> BenchRow:
    upload = settings.uploads_dir / f"{item.name}{item.path.suffix}"
    upload.parent.mkdir(parents=True, exist_ok=True)
    upload.unlink(missing_ok=True)
    os.link(item.path, upload)  # the pipeline deletes its upload once hashed
    # The lane the API gives an upload of this size; the pipeline moves a job whose media
    # turns out long, as the runner does (`LongMedia`), and the bench follows it there.
    outcome = await store.create_upload_submission(
        upload_path=str(upload),
        sha256=_sha256(item.path),
        upload_filename=upload.name,
        key_id="bench",
        lane=settings.jobs.lane_for(item.path.stat().st_size),
    )
    handlers = pipeline.handlers()
    started = time.perf_counter()
    try:
        while True:
            job = await store.claim_job("bench", kinds=(JobKind.PROCESS_MEDIA,))
            if job is None:
                raise RuntimeError("the submission queued no job")
            try:
                await handlers[job.kind](JobContext(store, "bench", job))
                break
            except LongMedia as why:
                print(f"{item.name}: moved to the long lane ({why})", file=sys.stderr, flush=True)
                await store.move_job_to_lane(job.id, "bench", JobLane.LONG)
        detail = await store.get_submission(outcome.submission.id)
        result = detail.result.verdict.value if detail.result else "no result"
        if detail.result and detail.result.matches:
            best = detail.result.matches[0].reference_id
            if best != item.reference_id:
                result = f"{result} on {best}, not {item.reference_id}"
    except JobFailure as failure:
        result = str(failure)
    seconds = time.perf_counter() - started
    peak = max((step.peak_memory_bytes for step in steps), default=0)
    return BenchRow(item, seconds, peak, len(steps), result)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def table(rows: list[BenchRow]) -> str:
    lines = [
        "| input | media | seconds | child peak MiB | steps | verdict |",
        "|---|---|---:|---:|---:|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row.input.name} | {row.input.description} | {row.seconds:.0f} | "
            f"{row.peak_memory_bytes / 2**20:.0f} | {row.steps} | {row.outcome} |"
        )
    return "\n".join(lines) + "\n"


def command(
    settings: Settings,
    sources_dir: Path,
    work_dir: Path,
    only: frozenset[str] = frozenset(),
    excerpt_seconds: int | None = None,
) -> int:
    """Run the bench and print its table; 0 when every input is confirmed on its reference."""
    rows = asyncio.run(run_limits_bench(settings, sources_dir, work_dir, only, excerpt_seconds))
    print(table(rows), end="")
    return 0 if all(row.outcome == "confirmed" for row in rows) else 1
