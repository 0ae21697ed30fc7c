"""Fair work: one key's flood and one huge file cannot starve the others (real runner, memory
and SQLite stores, handlers that record the order they start in)."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.triage.store.backends import migrated_sqlite_file
from triage.config import JobSettings, load_settings
from triage.models import JobKind, JobLane, JobState
from triage.store import Store, open_store
from triage.store.memory import MemoryStore
from triage.verdicts import VerdictStep
from workers.pipeline import Pipeline
from workers.runner import JobContext, LongMedia, Runner
from workers.service import live_index, media_tools

SETTINGS = JobSettings(lease_seconds=5.0, heartbeat_seconds=1.0, poll_seconds=0.01)


@pytest.fixture(params=["memory", "sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    if request.param == "memory":
        yield MemoryStore()
        return
    opened = open_store(f"sqlite:///{migrated_sqlite_file(tmp_path)}")
    yield opened
    await opened.close()


async def _submit(store: Store, key_id: str, count: int) -> list[str]:
    media_ids = []
    for n in range(count):
        outcome = await store.create_submission(
            url=f"https://{key_id}.example/v/{n}", key_id=key_id
        )
        media_ids.append(outcome.submission.media_id)
    return media_ids


async def test_key_as_fifty_submissions_delay_key_bs_one_by_at_most_two_jobs(
    store: Store,
) -> None:
    flood = await _submit(store, "key_a", 50)
    (single,) = await _submit(store, "key_b", 1)
    started: list[str] = []
    all_done = asyncio.Event()

    async def handler(ctx: JobContext) -> None:
        started.append(ctx.job.target_id)
        await ctx.store.complete_job(ctx.job.id, ctx.worker_id)
        if len(started) == len(flood) + 1:
            all_done.set()

    stop = asyncio.Event()
    runner = Runner(store, {JobKind.PROCESS_MEDIA: handler}, SETTINGS, slots=1)
    task = asyncio.create_task(runner.run(stop))
    try:
        await asyncio.wait_for(all_done.wait(), 60)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
    assert started.index(single) <= 2
    assert sorted(started) == sorted([*flood, single])


async def test_a_two_hour_video_does_not_delay_a_ten_second_control(store: Store) -> None:
    long_job = await store.enqueue_job(JobKind.PROCESS_MEDIA, "two-hours", lane=JobLane.LONG)
    control = await store.enqueue_job(JobKind.PROCESS_MEDIA, "ten-seconds")
    long_started = asyncio.Event()
    control_done = asyncio.Event()
    release_long = asyncio.Event()

    async def handler(ctx: JobContext) -> None:
        if ctx.job.id == long_job.id:
            long_started.set()
            await release_long.wait()  # hashing two hours takes a while
        await ctx.store.complete_job(ctx.job.id, ctx.worker_id)
        if ctx.job.id == control.id:
            control_done.set()

    stop = asyncio.Event()
    runner = Runner(store, {JobKind.PROCESS_MEDIA: handler}, SETTINGS, slots=1, long_slots=1)
    task = asyncio.create_task(runner.run(stop))
    try:
        await asyncio.wait_for(long_started.wait(), 10)
        await asyncio.wait_for(control_done.wait(), 10)
        assert (await store.get_job(long_job.id)).state.running  # still hashing
        release_long.set()
    finally:
        release_long.set()
        stop.set()
        await asyncio.wait_for(task, 10)
    assert (await store.get_job(long_job.id)).state is JobState.DONE


async def test_media_found_long_after_its_fetch_moves_to_the_long_lane(store: Store) -> None:
    found_long = await store.enqueue_job(JobKind.PROCESS_MEDIA, "looked-short")
    seen: list[JobLane] = []
    done = asyncio.Event()

    async def handler(ctx: JobContext) -> None:
        seen.append(ctx.job.lane)
        if ctx.job.lane is JobLane.SHORT:
            raise LongMedia("7200 s")
        await ctx.store.complete_job(ctx.job.id, ctx.worker_id)
        done.set()

    stop = asyncio.Event()
    runner = Runner(store, {JobKind.PROCESS_MEDIA: handler}, SETTINGS, slots=1, long_slots=1)
    task = asyncio.create_task(runner.run(stop))
    try:
        await asyncio.wait_for(done.wait(), 10)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
    assert seen == [JobLane.SHORT, JobLane.LONG]
    finished = await store.get_job(found_long.id)
    assert finished.state is JobState.DONE and finished.attempts == 1


@pytest.fixture(scope="module")
def two_hours(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real two-hour video, tiny and black, so it is made in a second."""
    out = tmp_path_factory.mktemp("long") / "two-hours.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "color=c=black:s=32x32:r=1",
         "-t", "7200", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
         str(out)],
        check=True,
    )  # fmt: skip
    return out


async def test_the_pipeline_moves_a_two_hour_upload_to_the_long_lane_before_hashing(
    tmp_path: Path, two_hours: Path
) -> None:
    settings = load_settings(
        None, {"TRIAGE_DATA_DIR": str(tmp_path / "data"), "TRIAGE_STORE__URL": "memory://"}
    )
    store = MemoryStore()
    upload = tmp_path / "upload.mp4"
    shutil.copyfile(two_hours, upload)
    # Under the size limit, so only its duration can tell (an upload over it is long at once).
    assert upload.stat().st_size < settings.jobs.long_media_bytes
    await store.create_upload_submission(
        upload_path=str(upload), sha256="b" * 64, upload_filename="clip.mp4", key_id="key_a"
    )
    with ThreadPoolExecutor(max_workers=1) as executor:
        pipeline = Pipeline(
            store,
            live_index(store, settings),
            media_tools(settings),
            settings,
            executor,
            VerdictStep.from_settings(settings),
        )
        job = await store.claim_job("w", lanes=[JobLane.SHORT])
        assert job is not None
        with pytest.raises(LongMedia, match="7200 s"):
            await pipeline.handlers()[job.kind](JobContext(store, "w", job))
    assert upload.exists()  # the only copy stays for the long lane
    assert (await store.get_job(job.id)).state is JobState.FETCHING  # nothing hashed
