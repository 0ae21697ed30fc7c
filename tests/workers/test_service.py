"""The worker side of the service: its lifecycle (the hash list synced before the first job,
jobs run by the handlers it wires, a graceful stop), the hashing functions it takes from the
settings, and what it adds to `/readyz`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from hashes.types import View
from tests.hashes.index_contract import clustered_reference
from tests.workers.hash_list import add_hashed_reference
from triage.config import MiB, Settings, load_settings
from triage.models import Job, JobKind, JobState
from triage.store import Store
from triage.store.memory import MemoryStore
from workers.retro_match import RetroMatcher
from workers.runner import JobContext
from workers.service import WorkerService, media_tools

CLIP = "sources/te-pattern-longer-no-bar.mp4"
WAIT_SECONDS = 30.0


def _settings(tmp_path: Path, **extra: str) -> Settings:
    return load_settings(
        None,
        {
            "TRIAGE_DATA_DIR": str(tmp_path / "data"),
            "TRIAGE_STORE__URL": "memory://",
            "TRIAGE_REFERRALS__WEBHOOK_URL": "http://127.0.0.1:9/hook",
            "TRIAGE_REFERRALS__WEBHOOK_SECRET": "s3cret",
            **extra,
        },
    )


# --- lifecycle ------------------------------------------------------------------------------


class HeldRetroMatcher(RetroMatcher):
    """Holds each retro-match job it takes until `release` is set, then completes it."""

    def __init__(self, service: WorkerService) -> None:
        super().__init__(
            service.store,
            service.verdicts,
            service.settings.retro_match_days,
            service.pipeline.lookup,
        )
        self.store, self.index = service.store, service.index
        self.references_indexed_at_start: int | None = None
        self.taken: list[str] = []
        self.started = asyncio.Event()
        self.release = asyncio.Event()

    async def handle(self, ctx: JobContext) -> None:
        if not self.started.is_set():
            self.references_indexed_at_start = len(self.index) if self.index.loaded else None
        self.taken.append(ctx.job.id)
        self.started.set()
        await self.release.wait()
        await self.store.complete_job(ctx.job.id, ctx.worker_id)


@pytest.fixture
async def worker(store: Store, tmp_path: Path) -> AsyncIterator[WorkerService]:
    """A worker with one slot and no long-lane slot (so one job at a time) over each backend,
    its hashing process started, not running yet."""
    settings = _settings(
        tmp_path, TRIAGE_JOBS__POLL_SECONDS="0.02", TRIAGE_JOBS__LONG_LANE_SLOTS="0"
    )
    async with WorkerService(store, settings, slots=1) as service:
        yield service


async def _until_state(service: WorkerService, job: Job, state: JobState) -> None:
    async def reached() -> None:
        while (await service.store.get_job(job.id)).state is not state:
            await asyncio.sleep(0.02)

    await asyncio.wait_for(reached(), WAIT_SECONDS)


async def test_the_hash_list_is_synced_and_a_queued_job_run_by_its_handler(
    worker: WorkerService,
) -> None:
    hashes = clustered_reference(np.random.default_rng(1))
    await add_hashed_reference(worker.store, "ref-a", hashes)
    job = await worker.store.enqueue_job(JobKind.RETRO_MATCH, "ref-a")
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    try:
        await _until_state(worker, job, JobState.DONE)
        assert worker.index.loaded and len(worker.index) == 1
    finally:
        stop.set()
        await asyncio.wait_for(running, WAIT_SECONDS)
    audit = await worker.store.list_audit()
    assert [(e.actor, e.action, e.target) for e in audit] == [
        ("system", "reference.retro_match", "ref-a")
    ]


async def test_a_stop_lets_the_running_job_finish_and_claims_no_other(
    worker: WorkerService, caplog: pytest.LogCaptureFixture
) -> None:
    held = HeldRetroMatcher(worker)
    worker.retro = held
    for reference_id in ("ref-a", "ref-b"):
        await add_hashed_reference(
            worker.store, reference_id, clustered_reference(np.random.default_rng(2))
        )
    jobs = [await worker.store.enqueue_job(JobKind.RETRO_MATCH, r) for r in ("ref-a", "ref-b")]
    stop = asyncio.Event()
    with caplog.at_level(logging.INFO, logger="workers.service"):
        running = asyncio.create_task(worker.run(stop))
        await asyncio.wait_for(held.started.wait(), WAIT_SECONDS)
        stop.set()
        (taken,) = held.taken
        assert (await worker.store.get_job(taken)).state.running
        assert not running.done()  # waiting for the held job, within the grace period
        held.release.set()
        await asyncio.wait_for(running, WAIT_SECONDS)
    assert held.references_indexed_at_start == 2  # the list is synced before the first job
    states = {job.id: (await worker.store.get_job(job.id)).state for job in jobs}
    assert states == {job.id: JobState.DONE if job.id == taken else JobState.QUEUED for job in jobs}
    messages = [r.getMessage() for r in caplog.records if r.name == "workers.service"]
    assert any(m.startswith("shutting down: no new jobs") for m in messages)
    assert messages[-1] == "stopped"


async def test_a_stop_with_no_job_running_ends_the_run_at_once(worker: WorkerService) -> None:
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    await asyncio.wait_for(_loaded(worker), WAIT_SECONDS)
    stop.set()
    await asyncio.wait_for(running, 5)


async def _loaded(service: WorkerService) -> None:
    while not service.index.loaded:
        await asyncio.sleep(0.02)


# --- the hashing functions ------------------------------------------------------------------


def _derived_rows(shared_data: Path, every: int) -> tuple[int, int]:
    settings = load_settings(environ={"TRIAGE_MATCH__REFERENCE_DERIVED_EVERY": str(every)})
    hashes = media_tools(settings).hash_reference(shared_data / CLIP)
    full = int(np.sum([view is View.FULL for view in hashes.views]))
    return full, len(hashes) - full


def test_reference_derived_views_follow_the_setting(shared_data: Path) -> None:
    full_dense, derived_dense = _derived_rows(shared_data, 1)
    full_sparse, derived_sparse = _derived_rows(shared_data, 4)
    # The exchanged full-frame hashes stay on every frame; only the derived views thin out.
    assert full_sparse == full_dense
    views_per_frame = derived_dense // full_dense
    assert views_per_frame > 1 and derived_dense == views_per_frame * full_dense
    assert derived_sparse == views_per_frame * -(-full_dense // 4)  # frames 0, 4, 8, ...


# --- readiness: what `triage serve` adds to `/readyz` ---------------------------------------


async def test_the_index_is_not_ready_until_the_hash_list_is_loaded(tmp_path: Path) -> None:
    async with WorkerService(MemoryStore(), _settings(tmp_path), slots=0) as service:
        check = service.readiness()["index"]
        assert check() == "the hash list is not loaded yet"
        await service.index.sync()
        assert check() is None


async def test_a_refused_webhook_destination_is_logged_at_start_and_not_ready(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with WorkerService(MemoryStore(), _settings(tmp_path), slots=0, primary=True) as service:
        checks = service.readiness()
        assert checks["webhook"]() is None  # not checked yet
        stop = asyncio.Event()
        with caplog.at_level(logging.ERROR):
            task = asyncio.create_task(service.run(stop))
            for _ in range(500):
                if checks["webhook"]() is not None:
                    break
                await asyncio.sleep(0.01)
            stop.set()
            await asyncio.wait_for(task, 10)
    problem = checks["webhook"]()
    assert problem is not None and "127.0.0.1:9 (loopback)" in problem
    assert "fetch.allow_hosts" in problem
    assert any("configuration error" in r.getMessage() for r in caplog.records)


async def test_an_allowed_destination_and_free_space_are_ready(tmp_path: Path) -> None:
    settings = _settings(tmp_path, TRIAGE_FETCH__ALLOW_HOSTS="127.0.0.1:9")
    async with WorkerService(MemoryStore(), settings, slots=0, primary=True) as service:
        assert service.relay is not None
        assert await service.relay.check_destination() is None
        await service.index.sync()
        problems = {name: check() for name, check in service.readiness().items()}
    assert problems == {"index": None, "disk": None, "webhook": None}


async def test_too_little_free_space_is_not_ready(tmp_path: Path) -> None:
    settings = _settings(tmp_path, TRIAGE_DATA_MIN_FREE_BYTES=str(2**62))
    async with WorkerService(MemoryStore(), settings, slots=0) as service:
        problem = service.readiness()["disk"]()
    assert problem is not None and problem.startswith("disk_full: ")


async def test_a_worker_whose_hashing_processes_run_is_ready_to_hash(
    worker: WorkerService,
) -> None:
    assert worker.hashing_ready
    assert worker.readiness()["hashing"]() is None


async def test_a_worker_whose_pool_cannot_start_reports_not_ready(tmp_path: Path) -> None:
    # Python with numpy, OpenCV and PyAV does not load in 256 MiB of address space.
    settings = _settings(tmp_path, TRIAGE_HASHING__MEMORY_BYTES=str(256 * MiB))
    async with WorkerService(MemoryStore(), settings, slots=1) as service:
        assert not service.hashing_ready
        assert service.readiness()["hashing"]() == "no hashing process can be started"
