"""The worker loop over the memory store: outcomes, heartbeats, graceful stop, lost leases."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from triage.config import JobSettings
from triage.errors import StoreError
from triage.models import Job, JobKind, JobState
from triage.store.memory import MemoryStore
from workers.runner import JobContext, JobFailure, JobHandler, Runner, permanent

SETTINGS = JobSettings(
    lease_seconds=0.6,
    heartbeat_seconds=0.1,
    max_attempts=2,
    backoff_base_seconds=0.05,
    backoff_max_seconds=0.05,
    poll_seconds=0.02,
)


async def _until(check: Callable[[], Awaitable[bool]], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition never became true")
        await asyncio.sleep(0.01)


async def _run_until(
    store: MemoryStore,
    handler: JobHandler,
    job_id: str,
    states: set[JobState],
    *,
    grace_seconds: float = 5.0,
) -> Job:
    stop = asyncio.Event()
    runner = Runner(store, {JobKind.PROCESS_MEDIA: handler}, SETTINGS, grace_seconds=grace_seconds)
    task = asyncio.create_task(runner.run(stop))

    async def reached() -> bool:
        return (await store.get_job(job_id)).state in states

    try:
        await _until(reached)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
    return await store.get_job(job_id)


async def _queued(store: MemoryStore) -> Job:
    return await store.enqueue_job(JobKind.PROCESS_MEDIA, "media-1", max_attempts=2)


async def test_handler_that_completes_leaves_the_job_done() -> None:
    store = MemoryStore()
    job = await _queued(store)

    async def handler(ctx: JobContext) -> None:
        await ctx.set_state(JobState.HASHING)
        await ctx.store.complete_job(ctx.job.id, ctx.worker_id)

    done = await _run_until(store, handler, job.id, {JobState.DONE})
    assert done.attempts == 1 and done.lease_owner is None


async def test_permanent_failure_ends_failed_with_reason() -> None:
    store = MemoryStore()
    job = await _queued(store)

    async def handler(ctx: JobContext) -> None:
        raise permanent("not_media", "the body is a web page")

    failed = await _run_until(store, handler, job.id, {JobState.FAILED})
    assert failed.last_error == "not_media: the body is a web page"
    assert failed.attempts == 1


async def test_transient_failure_is_retried_then_dead() -> None:
    store = MemoryStore()
    job = await _queued(store)
    calls: list[int] = []

    async def handler(ctx: JobContext) -> None:
        calls.append(ctx.job.attempts)
        raise JobFailure("unreachable", "connection refused", retryable=True)

    dead = await _run_until(store, handler, job.id, {JobState.DEAD})
    assert calls == [1, 2]
    assert dead.last_error == "unreachable: connection refused"


async def test_unexpected_exception_is_retried_without_leaking_its_message() -> None:
    store = MemoryStore()
    job = await _queued(store)

    async def handler(ctx: JobContext) -> None:
        raise ValueError("password=hunter2")

    dead = await _run_until(store, handler, job.id, {JobState.DEAD})
    assert dead.last_error == "internal: ValueError"


async def test_heartbeat_keeps_a_long_job_leased() -> None:
    store = MemoryStore()
    job = await _queued(store)
    stolen: list[Job | None] = []

    async def handler(ctx: JobContext) -> None:
        # Run for three lease lengths; another worker must not get the job meanwhile.
        for _ in range(6):
            await asyncio.sleep(SETTINGS.lease_seconds / 2)
            stolen.append(await ctx.store.claim_job("intruder", lease_seconds=1))
        await ctx.store.complete_job(ctx.job.id, ctx.worker_id)

    done = await _run_until(store, handler, job.id, {JobState.DONE})
    assert stolen == [None] * 6
    assert done.attempts == 1


async def test_stop_lets_a_short_job_finish() -> None:
    store = MemoryStore()
    job = await _queued(store)
    started = asyncio.Event()

    async def handler(ctx: JobContext) -> None:
        started.set()
        await asyncio.sleep(0.3)
        await ctx.store.complete_job(ctx.job.id, ctx.worker_id)

    stop = asyncio.Event()
    runner = Runner(store, {JobKind.PROCESS_MEDIA: handler}, SETTINGS, grace_seconds=5)
    task = asyncio.create_task(runner.run(stop))
    await asyncio.wait_for(started.wait(), 5)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert (await store.get_job(job.id)).state is JobState.DONE


async def test_stop_returns_the_lease_of_a_job_that_overruns_the_grace_period() -> None:
    store = MemoryStore()
    job = await _queued(store)
    started = asyncio.Event()
    cancelled = asyncio.Event()

    async def handler(ctx: JobContext) -> None:
        started.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    stop = asyncio.Event()
    runner = Runner(store, {JobKind.PROCESS_MEDIA: handler}, SETTINGS, grace_seconds=0.2)
    task = asyncio.create_task(runner.run(stop))
    await asyncio.wait_for(started.wait(), 5)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert cancelled.is_set()
    released = await store.get_job(job.id)
    assert released.state is JobState.QUEUED
    assert released.attempts == 0 and released.lease_owner is None


async def test_lost_lease_cancels_the_handler_and_records_nothing() -> None:
    now = [datetime(2026, 1, 1, tzinfo=UTC)]
    store = MemoryStore(clock=lambda: now[0])
    job = await _queued(store)
    started = asyncio.Event()
    cancelled = asyncio.Event()

    async def handler(ctx: JobContext) -> None:
        started.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    stop = asyncio.Event()
    runner = Runner(store, {JobKind.PROCESS_MEDIA: handler}, SETTINGS)
    task = asyncio.create_task(runner.run(stop))
    await asyncio.wait_for(started.wait(), 5)
    # The store's clock jumps past the lease: another worker takes the job over.
    now[0] += timedelta(seconds=10)
    taken = await store.claim_job("other", lease_seconds=60)
    assert taken is not None and taken.id == job.id
    await asyncio.wait_for(cancelled.wait(), 5)
    stop.set()
    await asyncio.wait_for(task, 5)
    current = await store.get_job(job.id)
    assert current.lease_owner == "other" and current.state is JobState.FETCHING
    assert current.last_error is None


def test_runner_needs_a_slot() -> None:
    with pytest.raises(ValueError, match="slot"):
        Runner(MemoryStore(), {}, SETTINGS, slots=0)


class _FlakyStore(MemoryStore):
    """The memory store, except that recording one failure breaks like a lost database."""

    def __init__(self) -> None:
        super().__init__()
        self.broken_once = False

    async def fail_job(self, job_id: str, worker_id: str, error: str, **kwargs: Any) -> Job:
        if not self.broken_once:
            self.broken_once = True
            raise StoreError("database is locked")
        return await super().fail_job(job_id, worker_id, error, **kwargs)


async def test_a_store_failure_while_settling_does_not_stop_the_worker() -> None:
    store = _FlakyStore()
    first = await _queued(store)
    second = await store.enqueue_job(JobKind.PROCESS_MEDIA, "media-2", max_attempts=2)

    async def handler(ctx: JobContext) -> None:
        if ctx.job.id == first.id:
            raise permanent("not_media", "a web page")
        await ctx.store.complete_job(ctx.job.id, ctx.worker_id)

    done = await _run_until(store, handler, second.id, {JobState.DONE})
    assert store.broken_once and done.state is JobState.DONE


async def test_failure_retried_a_limited_number_of_times_then_fails() -> None:
    store = MemoryStore()
    job = await store.enqueue_job(JobKind.PROCESS_MEDIA, "media-1", max_attempts=5)
    attempts: list[int] = []

    async def handler(ctx: JobContext) -> None:
        attempts.append(ctx.job.attempts)
        raise JobFailure("timeout", "hashing took too long", retryable=True, max_attempts=2)

    failed = await _run_until(store, handler, job.id, {JobState.FAILED, JobState.DEAD})
    assert attempts == [1, 2]
    assert failed.state is JobState.FAILED
    assert failed.last_error == "timeout: hashing took too long"
