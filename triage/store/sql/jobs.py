"""Durable jobs in SQL: claims, leases, heartbeats, backoff, dead jobs and retries.

A claim orders the due jobs fairly (lane, then the key served least recently, then due time),
then locks the first one still free with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL; on SQLite
the whole claim runs under ``BEGIN IMMEDIATE``, which admits one writer at a time.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, literal, or_, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from triage.models import OPEN_STATES, Job, JobKind, JobLane, JobState, QueueStat
from triage.store import rows, rules
from triage.store.sql.base import RUNNING, SqlBase
from triage.store.tables import claim_turns, jobs, references

# Jobs considered per claim; more than the claims that can race for the same ones at once.
CLAIM_CANDIDATES = 32


class SqlJobs(SqlBase):
    """Job operations; a hashing job's failure and retry also move its reference."""

    async def _set_reference_failed(
        self, conn: AsyncConnection, reference_id: str, *, failed: bool
    ) -> None:
        before, after = rules.reference_status_change(failed=failed)
        status = await conn.scalar(
            select(references.c.status).where(references.c.id == reference_id)
        )
        if status == before.value:
            await self._update_reference(conn, reference_id, status=after.value)

    async def _reset_job(self, conn: AsyncConnection, job: Job) -> Job:
        if job.kind is JobKind.HASH_REFERENCE:
            await self._set_reference_failed(conn, job.target_id, failed=False)
        return await self._save_job(
            conn,
            job.id,
            state=JobState.QUEUED,
            attempts=0,
            run_after=self._now(),
            lease_owner=None,
            lease_expires_at=None,
        )

    async def _finish_failed(
        self, conn: AsyncConnection, job: Job, state: JobState, error: str
    ) -> Job:
        if job.kind is JobKind.HASH_REFERENCE:
            await self._set_reference_failed(conn, job.target_id, failed=True)
        return await self._save_job(
            conn, job.id, state=state, last_error=error, lease_owner=None, lease_expires_at=None
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
        async with self._tx() as conn:
            return await self._insert_job(
                conn, kind, target_id, run_after or self._now(), key_id=key_id, lane=lane
            )

    async def get_job(self, job_id: str) -> Job:
        async with self._tx(read_only=True) as conn:
            return await self._job(conn, job_id)

    async def list_jobs(
        self, *, states: Collection[JobState] | None = None, limit: int = 100
    ) -> list[Job]:
        query = select(jobs).order_by(jobs.c.created_at, jobs.c.id).limit(limit)
        if states is not None:
            query = query.where(jobs.c.state.in_([s.value for s in states]))
        async with self._tx(read_only=True) as conn:
            return [rows.job(row._mapping) for row in await conn.execute(query)]

    async def claim_job(
        self,
        worker_id: str,
        *,
        kinds: Collection[JobKind] | None = None,
        lanes: Sequence[JobLane] | None = None,
        max_running_per_key: int | None = None,
    ) -> Job | None:
        kind_filter = jobs.c.kind.in_([k.value for k in kinds]) if kinds is not None else None
        async with self._tx() as conn:
            now = self._now()
            expired = and_(jobs.c.state.in_(RUNNING), jobs.c.lease_expires_at <= now)
            exhausted = select(jobs).where(expired, jobs.c.attempts >= jobs.c.max_attempts)
            if kind_filter is not None:
                exhausted = exhausted.where(kind_filter)
            for stale in await conn.execute(exhausted.with_for_update(skip_locked=True)):
                job = rows.job(stale._mapping)
                error = rules.lease_expired_error(job.attempts, job.max_attempts)
                await self._finish_failed(conn, job, JobState.DEAD, error)
            is_due = or_(
                and_(jobs.c.state == JobState.QUEUED.value, jobs.c.run_after <= now),
                and_(expired, jobs.c.attempts < jobs.c.max_attempts),
            )
            # The fair order is found on ids alone, without locks, so the database keeps only
            # the first few while it reads the queue; then the first one still free is locked.
            candidates = (
                select(jobs.c.id)
                .select_from(
                    jobs.outerjoin(
                        claim_turns,
                        claim_turns.c.key_group == func.coalesce(jobs.c.key_id, literal("")),
                    )
                )
                .where(is_due)
                .order_by(*self._fair_order(lanes), jobs.c.run_after, jobs.c.created_at, jobs.c.id)
                .limit(CLAIM_CANDIDATES)
            )
            if kind_filter is not None:
                candidates = candidates.where(kind_filter)
            if lanes is not None:
                candidates = candidates.where(
                    jobs.c.lane.in_([JobLane(lane).value for lane in lanes])
                )
            if max_running_per_key is not None:
                candidates = candidates.where(self._key_has_room(now, max_running_per_key))
            row = None
            for job_id in (await conn.scalars(candidates)).all():
                lock = select(jobs).where(jobs.c.id == job_id, is_due)
                row = (await conn.execute(lock.with_for_update(skip_locked=True))).first()
                if row is not None:
                    break
            if row is None:
                return None
            job = rows.job(row._mapping)
            await self._take_turn(conn, job.key_id, now)
            return await self._save_job(
                conn,
                job.id,
                state=job.kind.first_state,
                attempts=job.attempts + 1,
                lease_owner=worker_id,
                lease_expires_at=self._policy.lease_expiry(now),
                heartbeat_at=now,
                claimed_at=now,
            )

    @staticmethod
    def _fair_order(lanes: Sequence[JobLane] | None) -> list[Any]:
        """An earlier lane first; then the key served least recently (never: first)."""
        order: list[Any] = []
        if lanes is not None and len(lanes) > 1:
            rank = {JobLane(lane).value: index for index, lane in enumerate(lanes)}
            order.append(case(rank, value=jobs.c.lane, else_=len(rank)))
        order.append(claim_turns.c.last_claimed_at.asc().nulls_first())
        return order

    @staticmethod
    async def _take_turn(conn: AsyncConnection, key_id: str | None, now: datetime) -> None:
        """Record that the key (internal jobs: one group) was served now."""
        values = {"key_group": key_id or "", "last_claimed_at": now}
        upsert = sqlite_insert if conn.dialect.name == "sqlite" else postgresql_insert
        statement = upsert(claim_turns).values(values)
        await conn.execute(
            statement.on_conflict_do_update(
                index_elements=[claim_turns.c.key_group],
                set_={"last_claimed_at": statement.excluded.last_claimed_at},
            )
        )

    @staticmethod
    def _key_has_room(now: datetime, max_running: int) -> Any:
        """The job's key runs fewer than `max_running` jobs under a live lease."""
        running = jobs.alias("running")
        full_keys = (
            select(running.c.key_id)
            .where(
                running.c.state.in_(RUNNING),
                running.c.lease_expires_at > now,
                running.c.key_id.is_not(None),
            )
            .group_by(running.c.key_id)
            .having(func.count() >= max_running)
        )
        return or_(jobs.c.key_id.is_(None), jobs.c.key_id.not_in(full_keys))

    async def _give_back(self, job_id: str, worker_id: str, **changes: Any) -> Job:
        """Queue a leased job again, due now, with the attempt it used returned."""
        async with self._tx() as conn:
            job = await self._leased(conn, job_id, worker_id)
            return await self._save_job(
                conn,
                job_id,
                state=JobState.QUEUED,
                attempts=max(job.attempts - 1, 0),
                run_after=self._now(),
                lease_owner=None,
                lease_expires_at=None,
                **changes,
            )

    async def move_job_to_lane(self, job_id: str, worker_id: str, lane: JobLane) -> Job:
        return await self._give_back(job_id, worker_id, lane=lane)

    async def heartbeat(self, job_id: str, worker_id: str) -> Job:
        async with self._tx() as conn:
            await self._leased(conn, job_id, worker_id)
            now = self._now()
            return await self._save_job(
                conn, job_id, heartbeat_at=now, lease_expires_at=self._policy.lease_expiry(now)
            )

    async def set_job_state(self, job_id: str, worker_id: str, state: JobState) -> Job:
        rules.check_running_state(state)
        async with self._tx() as conn:
            await self._leased(conn, job_id, worker_id)
            return await self._save_job(conn, job_id, state=state)

    async def complete_job(self, job_id: str, worker_id: str) -> Job:
        async with self._tx() as conn:
            await self._leased(conn, job_id, worker_id)
            return await self._save_job(
                conn, job_id, state=JobState.DONE, lease_owner=None, lease_expires_at=None
            )

    async def fail_job(
        self,
        job_id: str,
        worker_id: str,
        error: str,
        *,
        retryable: bool,
    ) -> Job:
        async with self._tx() as conn:
            job = await self._leased(conn, job_id, worker_id)
            final_state = rules.final_failure_state(job, retryable=retryable)
            if final_state is not None:
                return await self._finish_failed(conn, job, final_state, error)
            delay = self._policy.retry_delay_seconds(job.attempts)
            return await self._save_job(
                conn,
                job_id,
                state=JobState.QUEUED,
                last_error=error,
                run_after=self._now() + timedelta(seconds=delay),
                lease_owner=None,
                lease_expires_at=None,
            )

    async def release_job(self, job_id: str, worker_id: str) -> Job:
        return await self._give_back(job_id, worker_id)

    async def retry_job(self, job_id: str) -> Job:
        async with self._tx() as conn:
            job = await self._job(conn, job_id, lock=True)
            rules.check_retryable(job)
            return await self._reset_job(conn, job)

    async def queue_stats(self) -> list[QueueStat]:
        async with self._tx(read_only=True) as conn:
            now = self._now()
            # Only open states: finished jobs pile up forever and would make each scrape
            # scan them all.
            result = await conn.execute(
                select(
                    jobs.c.kind,
                    jobs.c.state,
                    func.count(),
                    func.min(jobs.c.created_at),
                    func.min(case((jobs.c.run_after <= now, jobs.c.run_after))),
                )
                .where(jobs.c.state.in_([state.value for state in OPEN_STATES]))
                .group_by(jobs.c.kind, jobs.c.state)
            )
            found = {
                (JobKind(kind), JobState(state)): (int(count), oldest, due)
                for kind, state, count, oldest, due in result
            }
        stats = []
        for kind in JobKind:
            for state in OPEN_STATES:
                count, oldest, due = found.get((kind, state), (0, None, None))
                stats.append(
                    QueueStat(
                        kind=kind,
                        state=state,
                        count=count,
                        oldest_age_seconds=(now - oldest).total_seconds() if oldest else None,
                        longest_due_seconds=(
                            (now - due).total_seconds()
                            if due and state is JobState.QUEUED
                            else None
                        ),
                    )
                )
        return stats
