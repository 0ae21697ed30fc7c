"""The durable job queue: leases, heartbeats, retries with backoff, fair claims by key and
lane. Attempts, backoff and lease follow the store's `JobPolicy`, given when it is opened."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Protocol

from triage.models import Job, JobKind, JobLane, JobState, QueueStat


class JobQueue(Protocol):
    """Jobs: enqueued, claimed under a lease, and settled by the worker holding it."""

    async def enqueue_job(
        self,
        kind: JobKind,
        target_id: str,
        *,
        run_after: datetime | None = None,
        key_id: str | None = None,
        lane: JobLane = JobLane.SHORT,
    ) -> Job:
        """A new `queued` job, due at `run_after` (default: now), on `lane`, for `key_id`, with
        the policy's `max_attempts`.

        Submissions give their media job the submitting key (`Job.key_id`) themselves."""

    async def get_job(self, job_id: str) -> Job:
        """`NotFound`."""

    async def list_jobs(
        self, *, states: Collection[JobState] | None = None, limit: int = 100
    ) -> list[Job]:
        """Jobs, oldest first, optionally only those in `states`."""

    async def claim_job(
        self,
        worker_id: str,
        *,
        kinds: Collection[JobKind] | None = None,
        lanes: Sequence[JobLane] | None = None,
        max_running_per_key: int | None = None,
    ) -> Job | None:
        """Take the next due job for `worker_id`, or None when there is none.

        Due: `queued` with `run_after` passed, or running with an expired lease (its worker
        died). The job enters `kind.first_state`, its attempts count one more, and the lease
        runs the policy's `lease_seconds`. Two concurrent claims never get the same job. An
        expired job that has used all its attempts becomes `dead` instead of being handed out.

        Fairness: only jobs on `lanes` are taken (default: any), an earlier lane first; a key
        (`Job.key_id`; internal jobs form one group) with `max_running_per_key` jobs under a
        live lease gets no more; among the rest, the key whose last claim is oldest (or that
        was never served) goes first, then the job due first. On PostgreSQL the per-key limit
        can be passed by claims racing in the same instant (rows are locked, not counts).
        """

    async def heartbeat(self, job_id: str, worker_id: str) -> Job:
        """Extend the lease to now + the policy's `lease_seconds`. `LeaseLost` if not held by
        the worker."""

    async def set_job_state(self, job_id: str, worker_id: str, state: JobState) -> Job:
        """Move a leased job between running states (fetching, hashing, matching).

        `LeaseLost` if not held by the worker; `InvalidInput` for a non-running state.
        """

    async def complete_job(self, job_id: str, worker_id: str) -> Job:
        """Mark the job `done` and drop its lease. `LeaseLost` if not held by the worker."""

    async def fail_job(
        self,
        job_id: str,
        worker_id: str,
        error: str,
        *,
        retryable: bool,
    ) -> Job:
        """Record a failed attempt, keeping `error`.

        Retryable with attempts left: back to `queued`, due after the policy's backoff,
        min(backoff_max, backoff_base * 2 ** (attempts - 1)) seconds. Retryable with none
        left: `dead`. Not retryable: `failed`. A `hash_reference` job that ends `failed` or
        `dead` takes its pending reference to `failed` with it. `LeaseLost` if not held by the
        worker.
        """

    async def move_job_to_lane(self, job_id: str, worker_id: str, lane: JobLane) -> Job:
        """Give a leased job back to the queue on another lane, due now, the attempt it used
        returned (its media turned out long once fetched). `LeaseLost` if not held."""

    async def release_job(self, job_id: str, worker_id: str) -> Job:
        """Give a job back unfinished (graceful shutdown): `queued`, due now, and the attempt
        it used is returned. `LeaseLost` if not held by the worker."""

    async def retry_job(self, job_id: str) -> Job:
        """Queue a `dead` or `failed` job again with its attempts reset (the last error is
        kept until the next failure); a failed reference it hashes is `pending` again.
        `Conflict` in any other state; `NotFound`."""

    async def queue_stats(self) -> list[QueueStat]:
        """One entry per job kind and open state (`OPEN_STATES`), every pair listed (count 0
        and ages None when empty). Finished jobs are not counted: a queue's depth is its open
        work, which goes back down."""
