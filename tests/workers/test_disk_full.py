"""A full disk, for real: a 2 MiB tmpfs mounted by the test (we run as root) as data_dir.

A fetch that meets it fails with the retryable `disk_full` and succeeds once space is free;
workers take no new job while free space is under the minimum; an upload gets a 507
problem; `/readyz` says why it is not ready.
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from tests.triage.api.conftest import make_api
from tests.triage.api.test_app import assert_problem, form
from tests.workers.media_server import MediaServer
from tests.workers.test_pipeline import REFERENCE_CLIP, World, _world
from triage.api.app import create_app
from triage.config import JobSettings
from triage.disk import DiskSpace, free_bytes
from triage.models import JobKind, JobState, SubmissionStatus, Verdict
from triage.store.memory import MemoryStore
from workers.runner import JobContext, JobFailure, Runner

MIN_FREE_BYTES = 300 * 1024
LEFT_FREE_BYTES = 200 * 1024  # under the minimum, and less than the 479 kB clip


@dataclass
class SmallDisk:
    path: Path
    filler: Path

    def fill(self, leave_bytes: int = LEFT_FREE_BYTES) -> None:
        """Take all but `leave_bytes` of the free space."""
        with self.filler.open("ab") as out:
            out.write(b"\0" * max(0, free_bytes(self.path) - leave_bytes))

    def free(self) -> None:
        self.filler.unlink(missing_ok=True)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[SmallDisk]:
    mount = tmp_path / "disk"
    mount.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.fail(f"mounting a tmpfs needs root: {mounted.stderr.strip()}")
    try:
        yield SmallDisk(mount, mount / "filler")
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=1) as pool:
        yield pool


@pytest.fixture
async def world(
    small_disk: SmallDisk, media_server: MediaServer, executor: ThreadPoolExecutor
) -> AsyncIterator[World]:
    # One attempt: the fetch that meets the full disk is the job's last.
    made = _world(small_disk.path, media_server, executor, TRIAGE_JOBS__MAX_ATTEMPTS="1")
    yield made


async def test_a_fetch_that_meets_a_full_disk_ends_disk_full_and_succeeds_when_retried(
    world: World, small_disk: SmallDisk, media_server: MediaServer
) -> None:
    world.settings.media_dir.mkdir(parents=True)
    small_disk.fill()
    outcome = await world.store.create_submission(
        url=media_server.url(f"/media/{REFERENCE_CLIP}"), key_id="key_test"
    )
    with pytest.raises(JobFailure) as failed:
        await world.run_next()
    assert failed.value.reason == "disk_full" and failed.value.retryable
    (job,) = await world.store.list_jobs()
    # What the runner does with it: retryable, but this was the last attempt.
    await world.store.fail_job(job.id, "w1", str(failed.value), retryable=True)
    detail = await world.store.get_submission(outcome.submission.id)
    assert detail.status is SubmissionStatus.FAILED
    assert detail.error is not None and detail.error.startswith("disk_full: ")
    assert list(world.settings.media_dir.iterdir()) == []  # no partial download left
    disk = DiskSpace(small_disk.path, MIN_FREE_BYTES)
    assert disk.problem() is not None and "disk_full" in (disk.problem() or "")

    small_disk.free()
    assert disk.problem() is None
    await world.store.retry_job(job.id)
    await world.run_next()
    detail = await world.store.get_submission(outcome.submission.id)
    assert detail.status is SubmissionStatus.DONE
    assert detail.result is not None and detail.result.verdict is Verdict.NONE


async def test_workers_take_no_job_until_free_space_is_back(small_disk: SmallDisk) -> None:
    small_disk.fill()
    store = MemoryStore()
    job = await store.enqueue_job(JobKind.PROCESS_MEDIA, "med_1")
    disk = DiskSpace(small_disk.path, MIN_FREE_BYTES)
    consulted = 0
    held_thrice = asyncio.Event()
    done = asyncio.Event()

    def gate() -> str | None:
        nonlocal consulted
        problem = disk.problem()
        if problem is not None:
            consulted += 1
            if consulted >= 3:
                held_thrice.set()
        return problem

    async def handler(ctx: JobContext) -> None:
        await ctx.store.complete_job(ctx.job.id, ctx.worker_id)
        done.set()

    settings = JobSettings(poll_seconds=0.01)
    runner = Runner(store, {JobKind.PROCESS_MEDIA: handler}, settings, claim_gate=gate)
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    try:
        await asyncio.wait_for(held_thrice.wait(), 10)
        assert (await store.get_job(job.id)).state is JobState.QUEUED
        small_disk.free()
        await asyncio.wait_for(done.wait(), 10)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
    assert (await store.get_job(job.id)).state is JobState.DONE


async def test_an_upload_onto_a_full_disk_is_507_and_readyz_says_why(
    tmp_path: Path, small_disk: SmallDisk
) -> None:
    base = await make_api(tmp_path)
    await base.client.close()
    settings = base.settings.model_copy(update={"data_dir": small_disk.path})
    disk = DiskSpace(small_disk.path, MIN_FREE_BYTES)
    app = create_app(base.store, settings, readiness={"disk": disk.problem})
    client: TestClient[web.Request, web.Application] = TestClient(TestServer(app))
    await client.start_server()
    try:
        small_disk.fill()
        payload = bytes(range(256)) * 2048  # 512 kB, more than is left
        response = await client.post(
            "/v1/submissions", data=form(file=("clip.mp4", payload)), headers=base.auth("submit")
        )
        problem = await assert_problem(response, 507)
        assert str(problem["detail"]).startswith("disk_full: ")
        assert response.headers["Retry-After"] == "60"
        assert list(settings.uploads_dir.iterdir()) == []  # the partial file is gone
        ready = await client.get("/readyz")
        assert ready.status == 503
        assert (await ready.json())["reasons"]["disk"].startswith("disk_full: ")

        small_disk.free()
        accepted = await client.post(
            "/v1/submissions", data=form(file=("clip.mp4", payload)), headers=base.auth("submit")
        )
        assert accepted.status == 202, await accepted.text()
        assert (await client.get("/readyz")).status == 200
    finally:
        await client.close()
