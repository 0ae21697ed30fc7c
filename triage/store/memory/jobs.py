"""Durable-job semantics in memory: leases, heartbeats, backoff, dead jobs, retries."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta

from triage.models import OPEN_STATES, Job, JobKind, JobLane, JobState, QueueStat
from triage.store import rules
from triage.store.memory.base import MemoryBase


class MemoryJobs(MemoryBase):
    """Job operations; a hashing job's failure and retry also move its reference."""

    def _reset_job(self, job: Job) -> Job:
        if job.kind is JobKind.HASH_REFERENCE:
            self._set_reference_failed(job.target_id, failed=False)
        return self._save(
            job,
            state=JobState.QUEUED,
            attempts=0,
            run_after=self._now(),
            lease_owner=None,
            lease_expires_at=None,
        )

    def _set_reference_failed(self, reference_id: str, *, failed: bool) -> None:
        reference = self._references.get(reference_id)
        before, after = rules.reference_status_change(failed=failed)
        if reference is not None and reference.status is before:
            self._update_reference(reference, status=after)

    def _finish_failed(self, job: Job, state: JobState, error: str) -> Job:
        if job.kind is JobKind.HASH_REFERENCE:
            self._set_reference_failed(job.target_id, failed=True)
        return self._save(
            job, state=state, last_error=error, lease_owner=None, lease_expires_at=None
        )

    async def enqueue_job(
        self,
        kind: JobKind,
        target_id: str,
        *,
        run_after: datetime | None = None,
        key_id: str | None = None,
        lane: JobLane = JobLane.SHORT,
    ) -> Job:
        return self._new_job(kind, target_id, run_after or self._now(), key_id=key_id, lane=lane)

    async def get_job(self, job_id: str) -> Job:
        return self._job(job_id)

    async def list_jobs(
        self, *, states: Collection[JobState] | None = None, limit: int = 100
    ) -> list[Job]:
        jobs = [job for job in self._jobs.values() if states is None or job.state in states]
        return jobs[:limit]

    async def claim_job(
        self,
        worker_id: str,
        *,
        kinds: Collection[JobKind] | None = None,
        lanes: Sequence[JobLane] | None = None,
        max_running_per_key: int | None = None,
    ) -> Job | None:
        now = self._now()
        due: list[Job] = []
        running: dict[str, int] = {}
        last_claim: dict[str, datetime] = {}
        for job in self._jobs.values():
            group = job.key_id or ""
            if job.claimed_at is not None:
                last_claim[group] = max(job.claimed_at, last_claim.get(group, job.claimed_at))
            live = job.lease_expires_at is not None and job.lease_expires_at > now
            if job.state.running and live and job.key_id is not None:
                running[job.key_id] = running.get(job.key_id, 0) + 1
        for job in list(self._jobs.values()):
            if kinds is not None and job.kind not in kinds:
                continue
            if lanes is not None and job.lane not in lanes:
                continue
            if (
                max_running_per_key is not None
                and job.key_id is not None
                and running.get(job.key_id, 0) >= max_running_per_key
            ):
                continue
            expired = (
                job.state.running
                and job.lease_expires_at is not None
                and job.lease_expires_at <= now
            )
            if expired and job.attempts >= job.max_attempts:
                self._finish_failed(
                    job, JobState.DEAD, rules.lease_expired_error(job.attempts, job.max_attempts)
                )
            elif expired or (job.state is JobState.QUEUED and job.run_after <= now):
                due.append(job)
        if not due:
            return None
        lane_rank = {lane: index for index, lane in enumerate(lanes or ())}

        def order(job: Job) -> tuple[int, bool, datetime, datetime, datetime]:
            served = last_claim.get(job.key_id or "")
            # An earlier lane first; then the key served least recently (never: first).
            return (
                lane_rank.get(job.lane, 0),
                served is not None,
                served or now,
                job.run_after,
                job.created_at,
            )

        job = min(due, key=order)
        return self._save(
            job,
            state=job.kind.first_state,
            attempts=job.attempts + 1,
            lease_owner=worker_id,
            lease_expires_at=self._policy.lease_expiry(now),
            heartbeat_at=now,
            claimed_at=now,
        )

    def _give_back(self, job_id: str, worker_id: str, **changes: object) -> Job:
        """Queue a leased job again, due now, with the attempt it used returned."""
        job = self._leased(job_id, worker_id)
        return self._save(
            job,
            state=JobState.QUEUED,
            attempts=max(job.attempts - 1, 0),
            run_after=self._now(),
            lease_owner=None,
            lease_expires_at=None,
            **changes,
        )

    async def move_job_to_lane(self, job_id: str, worker_id: str, lane: JobLane) -> Job:
        return self._give_back(job_id, worker_id, lane=lane)

    async def heartbeat(self, job_id: str, worker_id: str) -> Job:
        job = self._leased(job_id, worker_id)
        now = self._now()
        return self._save(job, heartbeat_at=now, lease_expires_at=self._policy.lease_expiry(now))

    async def set_job_state(self, job_id: str, worker_id: str, state: JobState) -> Job:
        rules.check_running_state(state)
        return self._save(self._leased(job_id, worker_id), state=state)

    async def complete_job(self, job_id: str, worker_id: str) -> Job:
        job = self._leased(job_id, worker_id)
        return self._save(job, state=JobState.DONE, lease_owner=None, lease_expires_at=None)

    async def fail_job(
        self,
        job_id: str,
        worker_id: str,
        error: str,
        *,
        retryable: bool,
    ) -> Job:
        job = self._leased(job_id, worker_id)
        final_state = rules.final_failure_state(job, retryable=retryable)
        if final_state is not None:
            return self._finish_failed(job, final_state, error)
        delay = self._policy.retry_delay_seconds(job.attempts)
        return self._save(
            job,
            state=JobState.QUEUED,
            last_error=error,
            run_after=self._now() + timedelta(seconds=delay),
            lease_owner=None,
            lease_expires_at=None,
        )

    async def release_job(self, job_id: str, worker_id: str) -> Job:
        return self._give_back(job_id, worker_id)

    async def retry_job(self, job_id: str) -> Job:
        job = self._job(job_id)
        rules.check_retryable(job)
        return self._reset_job(job)

    async def queue_stats(self) -> list[QueueStat]:
        now = self._now()
        stats = []
        for kind in JobKind:
            for state in OPEN_STATES:
                jobs = [j for j in self._jobs.values() if j.kind is kind and j.state is state]
                oldest = min((job.created_at for job in jobs), default=None)
                due = [job.run_after for job in jobs if job.run_after <= now]
                longest_due = (now - min(due)).total_seconds() if due else None
                stats.append(
                    QueueStat(
                        kind=kind,
                        state=state,
                        count=len(jobs),
                        oldest_age_seconds=(now - oldest).total_seconds() if oldest else None,
                        longest_due_seconds=longest_due if state is JobState.QUEUED else None,
                    )
                )
        return stats
