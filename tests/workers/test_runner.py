"""The worker loop over the memory store: outcomes, heartbeats, graceful stop, lost leases.

Nothing here sleeps to let time pass: tests wait on the store's notifications and move the
store's clock by hand.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY

from tests.triage.store.backends import FakeClock
from triage import metrics
from triage.config import JobSettings
from triage.errors import StoreError
from triage.models import Job, JobKind, JobState
from triage.store.memory import MemoryStore
from triage.store.policy import JobPolicy
from triage.store.rules import utc_now
from workers.runner import JobContext, JobFailure, JobHandler, Runner, permanent

SETTINGS = JobSettings(
    lease_seconds=0.6,
    heartbeat_seconds=0.1,
    max_attempts=2,
    backoff_base_seconds=0.05,
    backoff_max_seconds=0.05,
    poll_seconds=0.02,
)
POLICY = JobPolicy.from_settings(SETTINGS)


class _ObservedStore(MemoryStore):
    """The memory store, notifying `changed` whenever a job ends an attempt or beats."""

    def __init__(
        self, *, policy: JobPolicy = POLICY, clock: Callable[[], datetime] = utc_now
    ) -> None:
        super().__init__(policy=policy, clock=clock)
        self.changed = asyncio.Condition()
        self.beat = asyncio.Event()

    async def _notify(self, job: Job) -> Job:
        async with self.changed:
            self.changed.notify_all()
        return job

    async def complete_job(self, job_id: str, worker_id: str) -> Job:
        return await self._notify(await super().complete_job(job_id, worker_id))

    async def fail_job(self, job_id: str, worker_id: str, error: str, **kwargs: Any) -> Job:
        return await self._notify(await super().fail_job(job_id, worker_id, error, **kwargs))

    async def release_job(self, job_id: str, worker_id: str) -> Job:
        return await self._notify(await super().release_job(job_id, worker_id))

    async def heartbeat(self, job_id: str, worker_id: str) -> Job:
        job = await super().heartbeat(job_id, worker_id)
        self.beat.set()
        return await self._notify(job)


async def _run_until(
    store: _ObservedStore,
    handler: JobHandler,
    job_id: str,
    states: set[JobState],
    *,
    grace_seconds: float = 5.0,
) -> Job:
    stop = asyncio.Event()
    settings = SETTINGS.model_copy(update={"shutdown_grace_seconds": grace_seconds})
    runner = Runner(store, {JobKind.PROCESS_MEDIA: handler}, settings)
    task = asyncio.create_task(runner.run(stop))

    try:
        async with store.changed:
            while (await store.get_job(job_id)).state not in states:
                await asyncio.wait_for(store.changed.wait(), 5)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
    return await store.get_job(job_id)


async def _queued(store: MemoryStore) -> Job:
    return await store.enqueue_job(JobKind.PROCESS_MEDIA, "media-1")


async def test_handler_that_completes_leaves_the_job_done() -> None:
    store = _ObservedStore()
    job = await _queued(store)

    async def handler(ctx: JobContext) -> None:
        await ctx.set_state(JobState.HASHING)
        await ctx.store.complete_job(ctx.job.id, ctx.worker_id)

    done = await _run_until(store, handler, job.id, {JobState.DONE})
    assert done.attempts == 1 and done.lease_owner is None


async def test_permanent_failure_ends_failed_with_reason() -> None:
    store = _ObservedStore()
    job = await _queued(store)

    async def handler(ctx: JobContext) -> None:
        raise permanent("not_media", "the body is a web page")

    failed = await _run_until(store, handler, job.id, {JobState.FAILED})
    assert failed.last_error == "not_media: the body is a web page"
    assert failed.attempts == 1


async def test_transient_failure_is_retried_then_dead() -> None:
    store = _ObservedStore()
    job = await _queued(store)
    calls: list[int] = []

    async def handler(ctx: JobContext) -> None:
        calls.append(ctx.job.attempts)
        raise JobFailure("unreachable", "connection refused", retryable=True)

    dead = await _run_until(store, handler, job.id, {JobState.DEAD})
    assert calls == [1, 2]
    assert dead.last_error == "unreachable: connection refused"


async def test_unexpected_exception_is_retried_without_leaking_its_message() -> None:
    store = _ObservedStore()
    job = await _queued(store)

    async def handler(ctx: JobContext) -> None:
        raise ValueError("password=hunter2")

    dead = await _run_until(store, handler, job.id, {JobState.DEAD})
    assert dead.last_error == "internal: ValueError"


async def test_heartbeat_keeps_a_long_job_leased(clock: FakeClock) -> None:
    store = _ObservedStore(clock=clock)
    job = await _queued(store)
    stolen: list[Job | None] = []

    async def handler(ctx: JobContext) -> None:
        # Three lease lengths pass on the store's clock, half a lease at a time, each followed
        # by a heartbeat; another worker must not get the job meanwhile.
        for _ in range(6):
            store.beat.clear()
            clock.advance(SETTINGS.lease_seconds / 2)
            await asyncio.wait_for(store.beat.wait(), 5)
            stolen.append(await ctx.store.claim_job("intruder"))
        await ctx.store.complete_job(ctx.job.id, ctx.worker_id)

    done = await _run_until(store, handler, job.id, {JobState.DONE})
    assert stolen == [None] * 6
    assert done.attempts == 1


async def test_stop_lets_a_short_job_finish() -> None:
    store = _ObservedStore()
    job = await _queued(store)
    started = asyncio.Event()
    stop = asyncio.Event()

    async def handler(ctx: JobContext) -> None:
        started.set()
        # Still running when the worker is asked to stop; it finishes a heartbeat later.
        await stop.wait()
        store.beat.clear()
        await store.beat.wait()
        await ctx.store.complete_job(ctx.job.id, ctx.worker_id)

    settings = SETTINGS.model_copy(update={"shutdown_grace_seconds": 5})
    runner = Runner(store, {JobKind.PROCESS_MEDIA: handler}, settings)
    task = asyncio.create_task(runner.run(stop))
    await asyncio.wait_for(started.wait(), 5)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert (await store.get_job(job.id)).state is JobState.DONE


async def test_stop_returns_the_lease_of_a_job_that_overruns_the_grace_period() -> None:
    store = _ObservedStore()
    job = await _queued(store)
    started = asyncio.Event()
    cancelled = asyncio.Event()

    async def handler(ctx: JobContext) -> None:
        started.set()
        try:
            await asyncio.Event().wait()  # never finishes on its own
        except asyncio.CancelledError:
            cancelled.set()
            raise

    stop = asyncio.Event()
    settings = SETTINGS.model_copy(update={"shutdown_grace_seconds": 0.2})
    runner = Runner(store, {JobKind.PROCESS_MEDIA: handler}, settings)
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
    store = MemoryStore(policy=POLICY, clock=lambda: now[0])
    job = await _queued(store)
    started = asyncio.Event()
    cancelled = asyncio.Event()

    async def handler(ctx: JobContext) -> None:
        started.set()
        try:
            await asyncio.Event().wait()  # never finishes on its own
        except asyncio.CancelledError:
            cancelled.set()
            raise

    stop = asyncio.Event()
    runner = Runner(store, {JobKind.PROCESS_MEDIA: handler}, SETTINGS)
    task = asyncio.create_task(runner.run(stop))
    await asyncio.wait_for(started.wait(), 5)
    # The store's clock jumps past the lease: another worker takes the job over.
    now[0] += timedelta(seconds=10)
    taken = await store.claim_job("other")
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


class _FlakyStore(_ObservedStore):
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
    second = await store.enqueue_job(JobKind.PROCESS_MEDIA, "media-2")

    async def handler(ctx: JobContext) -> None:
        if ctx.job.id == first.id:
            raise permanent("not_media", "a web page")
        await ctx.store.complete_job(ctx.job.id, ctx.worker_id)

    done = await _run_until(store, handler, second.id, {JobState.DONE})
    assert store.broken_once and done.state is JobState.DONE


class _PolledStore(MemoryStore):
    """The memory store, setting `polled` each time a worker has asked it for a job."""

    def __init__(self) -> None:
        super().__init__()
        self.polled = asyncio.Event()

    async def claim_job(self, *args: Any, **kwargs: Any) -> Job | None:
        job = await super().claim_job(*args, **kwargs)
        self.polled.set()
        return job


async def test_idle_worker_heartbeat_moves_on_every_poll() -> None:
    store = _PolledStore()
    metrics.worker_last_heartbeat_timestamp_seconds.set(0)
    stop = asyncio.Event()

    async def never(ctx: JobContext) -> None:
        raise AssertionError("no job was queued")

    runner = Runner(store, {JobKind.PROCESS_MEDIA: never}, SETTINGS, slots=2)
    slots_before = _sample("triage_worker_slots")
    task = asyncio.create_task(runner.run(stop))
    try:
        # The runner records the beat as soon as the store answers, before it waits again.
        await asyncio.wait_for(store.polled.wait(), 5)
        first = _sample("triage_worker_last_heartbeat_timestamp_seconds")
        assert first > 0
        assert _sample("triage_worker_slots") == slots_before + 2
        # Still no job, and the next polls move it again.
        store.polled.clear()
        await asyncio.wait_for(store.polled.wait(), 5)
        assert _sample("triage_worker_last_heartbeat_timestamp_seconds") > first
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
    assert _sample("triage_worker_slots") == slots_before


async def test_worker_whose_polls_fail_stops_beating() -> None:
    class BrokenStore(MemoryStore):
        async def claim_job(self, *args: Any, **kwargs: Any) -> Job | None:
            polls.set()
            raise StoreError("the database is gone")

    polls = asyncio.Event()
    metrics.worker_last_heartbeat_timestamp_seconds.set(0)
    stop = asyncio.Event()
    runner = Runner(BrokenStore(), {}, SETTINGS)
    task = asyncio.create_task(runner.run(stop))
    try:
        await asyncio.wait_for(polls.wait(), 5)
        polls.clear()
        await asyncio.wait_for(polls.wait(), 5)  # a second failed poll: the loop goes on
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
    assert _sample("triage_worker_last_heartbeat_timestamp_seconds") == 0


def _sample(name: str) -> float:
    value = REGISTRY.get_sample_value(name)
    assert value is not None, name
    return value


async def test_failure_retried_a_limited_number_of_times_then_fails() -> None:
    store = _ObservedStore(policy=replace(POLICY, max_attempts=5))
    job = await store.enqueue_job(JobKind.PROCESS_MEDIA, "media-1")
    attempts: list[int] = []

    async def handler(ctx: JobContext) -> None:
        attempts.append(ctx.job.attempts)
        raise JobFailure("timeout", "hashing took too long", retryable=True, max_attempts=2)

    failed = await _run_until(store, handler, job.id, {JobState.FAILED, JobState.DEAD})
    assert attempts == [1, 2]
    assert failed.state is JobState.FAILED
    assert failed.last_error == "timeout: hashing took too long"
