"""The worker loop: claim a job, keep its lease alive, run its handler, record the outcome.

A handler finishes its job itself (for instance `record_result` with the job id completes it
in the same transaction as the result) or raises:

- `JobFailure(reason, detail, retryable=False)`: the input is bad; the job ends `failed`.
- `JobFailure(..., retryable=True)` or any other exception: tried again with backoff, `dead`
  once its attempts are used up. The error is kept on the job as ``"<reason>: <detail>"``.
- `LongMedia`: the media turned out long; the job goes back to the queue on the long lane,
  the attempt returned.

Fairness: `slots` take short jobs; `long_slots` more take long jobs first and short ones when
there are none, so a two-hour video never holds the slot a ten-second clip needs (with no
long slots every slot takes every job). No key gets more than `max_running_per_key` jobs at
once, and the key served least recently is served first (see `Store.claim_job`).

Stopping: when `stop` is set no new job is claimed; running jobs get `shutdown_grace_seconds`
to finish, then they are cancelled and their leases returned (`release_job`), so another
worker takes them at once. A worker killed outright loses nothing either: its leases expire
and the jobs are claimed again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

from triage import metrics
from triage.config import JobSettings
from triage.errors import LeaseLost, TriageError
from triage.logs import log_context
from triage.models import Job, JobKind, JobLane, JobState
from triage.store.protocols import JobQueue

_log = logging.getLogger(__name__)


class JobFailure(TriageError):
    """A job attempt failed for a known `reason` (a short snake_case word)."""

    def __init__(
        self, reason: str, detail: str, *, retryable: bool, max_attempts: int | None = None
    ) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.retryable = retryable
        # Retried only while the job has had fewer attempts than this (None: the job's own
        # max_attempts), for failures that one more try may fix but many will not.
        self.max_attempts = max_attempts

    def retryable_after(self, attempts: int) -> bool:
        """Whether the job is tried again after `attempts` attempts ending in this failure."""
        return self.retryable and (self.max_attempts is None or attempts < self.max_attempts)


class LongMedia(TriageError):
    """The media of a short-lane job turned out long: move the job to the long lane."""


def permanent(reason: str, detail: str) -> JobFailure:
    """A failure that retrying cannot fix: the job ends `failed`."""
    return JobFailure(reason, detail, retryable=False)


@dataclass(frozen=True, slots=True)
class JobContext:
    """What a handler needs to act on its leased job."""

    store: JobQueue
    worker_id: str
    job: Job

    async def set_state(self, state: JobState) -> None:
        await self.store.set_job_state(self.job.id, self.worker_id, state)

    async def complete(self) -> None:
        """Mark the job done (for a handler that records nothing else with it)."""
        await self.store.complete_job(self.job.id, self.worker_id)


JobHandler = Callable[[JobContext], Coroutine[Any, Any, None]]
ClaimGate = Callable[[], str | None]
"""None while jobs may be claimed, else why not (e.g. the disk is full)."""


def _target_ids(job: Job) -> dict[str, str]:
    """The log ids a job's target gives: a media for `process_media`, else a reference."""
    name = "media_id" if job.kind is JobKind.PROCESS_MEDIA else "reference_id"
    return {name: job.target_id}


def new_worker_id() -> str:
    """Unique per worker slot, readable in logs: host, pid and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class Runner:
    """Runs `slots` jobs at a time from `store`, dispatching each by kind to its handler."""

    def __init__(
        self,
        store: JobQueue,
        handlers: Mapping[JobKind, JobHandler],
        settings: JobSettings,
        *,
        slots: int = 1,
        long_slots: int = 0,
        claim_gate: ClaimGate | None = None,
    ) -> None:
        if slots < 1 or long_slots < 0:
            raise ValueError(f"a runner needs at least one slot, got {slots} (+{long_slots})")
        self._store = store
        self._handlers = dict(handlers)
        self._settings = settings
        self._slots = slots
        self._long_slots = long_slots
        self._claim_gate = claim_gate
        self._holding: str | None = None

    async def run(self, stop: asyncio.Event) -> None:
        """Work until `stop` is set, then wind down gracefully (see the module docstring)."""
        short: tuple[JobLane, ...] | None = (JobLane.SHORT,) if self._long_slots else None
        metrics.worker_slots.inc(self._slots + self._long_slots)
        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(self._slots):
                    group.create_task(self._slot(new_worker_id(), stop, short))
                for _ in range(self._long_slots):
                    group.create_task(
                        self._slot(new_worker_id(), stop, (JobLane.LONG, JobLane.SHORT))
                    )
        finally:
            metrics.worker_slots.dec(self._slots + self._long_slots)

    async def _slot(
        self, worker_id: str, stop: asyncio.Event, lanes: tuple[JobLane, ...] | None
    ) -> None:
        while not stop.is_set():
            if self._held():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self._settings.poll_seconds)
                continue
            try:
                job = await self._store.claim_job(
                    worker_id,
                    kinds=tuple(self._handlers),
                    lanes=lanes,
                    max_running_per_key=self._settings.max_running_per_key,
                )
            except TriageError:
                _log.exception("worker %s could not claim a job", worker_id)
                job = None
            else:
                # The store answered the poll: this slot is alive even when there is no work
                # (only a failing poll leaves the heartbeat behind, as it should).
                metrics.worker_last_heartbeat_timestamp_seconds.set(time.time())
            if job is None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self._settings.poll_seconds)
                continue
            metrics.workers_busy.inc()
            try:
                with log_context(job_id=job.id, **_target_ids(job)):
                    await self._run_job(JobContext(self._store, worker_id, job), stop)
            except TriageError:
                # The store failed while settling the job: its lease expires and the job is
                # taken again, so the worker carries on instead of taking the service down.
                _log.exception("worker %s could not record the end of job %s", worker_id, job.id)
            finally:
                metrics.workers_busy.dec()

    def _held(self) -> bool:
        """True while the gate keeps new claims back; says so once when it starts and ends."""
        problem = self._claim_gate() if self._claim_gate is not None else None
        if problem != self._holding:
            if problem is None:
                _log.info("taking jobs again")
            else:
                _log.warning("taking no new job: %s", problem)
            self._holding = problem
        return problem is not None

    async def _run_job(self, ctx: JobContext, stop: asyncio.Event) -> None:
        job = ctx.job
        _log.info(
            "worker %s runs %s job %s (attempt %d)", ctx.worker_id, job.kind, job.id, job.attempts
        )
        work = asyncio.create_task(self._handlers[job.kind](ctx), name=f"job-{job.id}")
        beat = asyncio.create_task(self._heartbeat(ctx, work), name=f"heartbeat-{job.id}")
        stopping = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({work, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not work.done():
                # Asked to stop: let the job finish within the grace period, else give it back.
                done, _ = await asyncio.wait({work}, timeout=self._settings.shutdown_grace_seconds)
                if not done:
                    work.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await work
                    await self._release(ctx)
                    return
            await self._settle(ctx, work)
        finally:
            beat.cancel()
            stopping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat
            with contextlib.suppress(asyncio.CancelledError):
                await stopping

    async def _settle(self, ctx: JobContext, work: asyncio.Task[None]) -> None:
        job = ctx.job
        if work.cancelled():
            # Cancelled by the heartbeat: the lease went to another worker; nothing to record.
            metrics.jobs_finished_total.labels(kind=job.kind.value, outcome="lease_lost").inc()
            return
        error = work.exception()
        if error is None:
            metrics.jobs_finished_total.labels(kind=job.kind.value, outcome="done").inc()
            return
        if isinstance(error, LeaseLost):
            _log.warning("job %s: lease lost before it finished", job.id)
            metrics.jobs_finished_total.labels(kind=job.kind.value, outcome="lease_lost").inc()
            return
        if isinstance(error, LongMedia):
            await self._move_to_long_lane(ctx, str(error))
            return
        if isinstance(error, JobFailure):
            message, retryable = str(error), error.retryable_after(job.attempts)
            _log.info("job %s failed: %s", job.id, message)
        else:
            message, retryable = f"internal: {type(error).__name__}", True
            _log.error("job %s raised", job.id, exc_info=error)
        try:
            updated = await self._store.fail_job(
                job.id,
                ctx.worker_id,
                message,
                retryable=retryable,
            )
        except LeaseLost:
            _log.warning("job %s: lease lost before its failure was recorded", job.id)
            return
        outcome = {JobState.QUEUED: "retry", JobState.DEAD: "dead"}.get(updated.state, "failed")
        metrics.jobs_finished_total.labels(kind=job.kind.value, outcome=outcome).inc()

    async def _move_to_long_lane(self, ctx: JobContext, why: str) -> None:
        try:
            await self._store.move_job_to_lane(ctx.job.id, ctx.worker_id, JobLane.LONG)
        except LeaseLost:
            _log.warning("job %s: lease lost before it moved to the long lane", ctx.job.id)
            return
        _log.info("job %s moved to the long lane: %s", ctx.job.id, why)
        metrics.jobs_finished_total.labels(kind=ctx.job.kind.value, outcome="moved").inc()

    async def _release(self, ctx: JobContext) -> None:
        try:
            await self._store.release_job(ctx.job.id, ctx.worker_id)
            _log.info("job %s released on shutdown", ctx.job.id)
        except (LeaseLost, TriageError):
            _log.warning("job %s could not be released; its lease will expire", ctx.job.id)
        metrics.jobs_finished_total.labels(kind=ctx.job.kind.value, outcome="released").inc()

    async def _heartbeat(self, ctx: JobContext, work: asyncio.Task[None]) -> None:
        while True:
            await asyncio.sleep(self._settings.heartbeat_seconds)
            try:
                await self._store.heartbeat(ctx.job.id, ctx.worker_id)
            except LeaseLost:
                _log.warning("job %s: lease lost; abandoning it", ctx.job.id)
                work.cancel()
                return
            except TriageError:
                # A store hiccup: try again next beat; the lease has slack for one miss.
                _log.exception("job %s: heartbeat failed", ctx.job.id)
                continue
            metrics.worker_heartbeats_total.inc()
            metrics.worker_last_heartbeat_timestamp_seconds.set(time.time())
