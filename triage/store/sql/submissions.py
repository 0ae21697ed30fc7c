"""Submissions, media and results in SQL: deduplicated by URL, idempotency key and SHA-256."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from triage.errors import Conflict
from triage.evidence import FetchEvidence, MatchEvidence
from triage.models import (
    JobKind,
    JobLane,
    JobState,
    Media,
    QueryHashes,
    Result,
    SubmissionDetail,
    SubmissionFilter,
    SubmissionStatus,
    SubmitOutcome,
    Verdict,
    text_sha256,
)
from triage.store import rows, rules
from triage.store.sql.jobs import SqlJobs
from triage.store.sql.outbox import SqlOutbox
from triage.store.tables import jobs, media, result_references, results
from triage.store.tables import submissions as submissions_table

# A submission racing another of the same URL or idempotency key is tried again this often.
SUBMIT_TRIES = 3


class SqlSubmissions(SqlJobs, SqlOutbox):
    """Submissions, media and results; a verdict writes its referral or review item."""

    @staticmethod
    async def _replay(
        conn: AsyncConnection, key_id: str, idempotency_key: str | None
    ) -> SubmitOutcome | None:
        if idempotency_key is None:
            return None
        row = (
            await conn.execute(
                select(submissions_table).where(
                    submissions_table.c.key_id == key_id,
                    submissions_table.c.idempotency_key == idempotency_key,
                )
            )
        ).first()
        if row is None:
            return None
        return SubmitOutcome(
            submission=rows.submission(row._mapping), replayed=True, deduplicated=False
        )

    async def _requeue_if_failed(self, conn: AsyncConnection, media_id: str) -> None:
        row = await self._media_job_row(conn, media_id)
        if row is not None and JobState(row.state) in rules.RETRYABLE_JOB_STATES:
            await self._reset_job(conn, rows.job(row._mapping))

    async def _insert_media(
        self,
        conn: AsyncConnection,
        *,
        url: str | None,
        upload_path: str | None,
        sha256: str | None,
        key_id: str,
        lane: JobLane,
    ) -> str:
        now = self._now()
        media_id = rules.new_id("med")
        await conn.execute(
            insert(media).values(
                id=media_id,
                url=url,
                host=rules.url_host(url),
                upload_path=upload_path,
                sha256=sha256,
                created_at=now,
            )
        )
        await self._insert_job(conn, JobKind.PROCESS_MEDIA, media_id, now, key_id=key_id, lane=lane)
        return media_id

    async def _insert_submission(
        self, conn: AsyncConnection, deduplicated: bool, **values: Any
    ) -> SubmitOutcome:
        values.update(id=rules.new_id("sub"), created_at=self._now())
        await conn.execute(insert(submissions_table).values(values))
        return SubmitOutcome(
            submission=rows.submission(values), replayed=False, deduplicated=deduplicated
        )

    async def _submit(
        self,
        existing: Select[str],
        *,
        key_id: str,
        idempotency_key: str | None,
        new_media: dict[str, Any],
        submission: dict[str, Any],
    ) -> SubmitOutcome:
        async def attempt(conn: AsyncConnection) -> SubmitOutcome:
            replay = await self._replay(conn, key_id, idempotency_key)
            if replay is not None:
                return replay
            media_id = await conn.scalar(existing)
            deduplicated = media_id is not None
            if media_id is None:
                media_id = await self._insert_media(conn, key_id=key_id, **new_media)
            else:
                await self._requeue_if_failed(conn, media_id)
            return await self._insert_submission(
                conn,
                deduplicated,
                key_id=key_id,
                idempotency_key=idempotency_key,
                media_id=media_id,
                **submission,
            )

        # A concurrent submission of the same URL or idempotency key loses the race on a
        # unique constraint; trying again then finds the winner's rows.
        for _ in range(SUBMIT_TRIES - 1):
            try:
                async with self._tx() as conn:
                    return await attempt(conn)
            except Conflict:
                continue
        async with self._tx() as conn:
            return await attempt(conn)

    async def create_submission(
        self,
        *,
        url: str,
        key_id: str,
        note: str | None = None,
        external_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> SubmitOutcome:
        return await self._submit(
            select(media.c.id).where(media.c.url == url),
            key_id=key_id,
            idempotency_key=idempotency_key,
            new_media={
                "url": url,
                "upload_path": None,
                "sha256": None,
                "lane": JobLane.SHORT,
            },
            submission={
                "url": url,
                "upload_filename": None,
                "note": note,
                "external_id": external_id,
            },
        )

    async def create_upload_submission(
        self,
        *,
        upload_path: str,
        sha256: str,
        upload_filename: str | None,
        key_id: str,
        note: str | None = None,
        external_id: str | None = None,
        idempotency_key: str | None = None,
        lane: JobLane = JobLane.SHORT,
    ) -> SubmitOutcome:
        return await self._submit(
            select(media.c.id)
            .where(media.c.sha256 == sha256, media.c.same_as.is_(None))
            .order_by(media.c.created_at, media.c.id)
            .limit(1),
            key_id=key_id,
            idempotency_key=idempotency_key,
            new_media={
                "url": None,
                "upload_path": upload_path,
                "sha256": sha256,
                "lane": lane,
            },
            submission={
                "url": None,
                "upload_filename": upload_filename,
                "note": note,
                "external_id": external_id,
            },
        )

    async def get_submission(self, submission_id: str) -> SubmissionDetail:
        async with self._tx(read_only=True) as conn:
            return await self._detail(conn, submission_id)

    async def _detail(self, conn: AsyncConnection, submission_id: str) -> SubmissionDetail:
        submission = rows.submission(
            await self._row_by_id(conn, submissions_table, submission_id, "submission")
        )
        linked = await self._media(conn, submission.media_id)
        shared_id = linked.same_as or linked.id
        job_row = await self._media_job_row(conn, shared_id)
        result_row = (
            await conn.execute(select(results).where(results.c.media_id == shared_id))
        ).first()
        return SubmissionDetail(
            submission=submission,
            media=linked,
            job=rows.job(job_row._mapping) if job_row is not None else None,
            result=rows.result(result_row._mapping) if result_row is not None else None,
        )

    async def list_submissions(
        self, where: SubmissionFilter, *, before: str | None = None, limit: int = 100
    ) -> list[SubmissionDetail]:
        table = submissions_table
        shared = func.coalesce(media.c.same_as, media.c.id)
        query = (
            select(table.c.id)
            .join(media, media.c.id == table.c.media_id)
            .outerjoin(results, results.c.media_id == shared)
            .order_by(table.c.created_at.desc(), table.c.id.desc())
            .limit(limit)
        )
        if where.key_id is not None:
            query = query.where(table.c.key_id == where.key_id)
        if where.hosts is not None:
            query = query.where(self._host_filter(media.c.host, where.hosts))
        if where.external_id is not None:
            query = query.where(table.c.external_id == where.external_id)
        if where.media_id is not None:
            query = query.where(
                or_(table.c.media_id == where.media_id, media.c.same_as == where.media_id)
            )
        if where.verdicts is not None:
            query = query.where(results.c.verdict.in_([v.value for v in where.verdicts]))
        if where.statuses is not None:
            query = query.where(_status_condition(where.statuses, shared))
        async with self._tx(read_only=True) as conn:
            if before is not None:
                last = await self._row_by_id(conn, table, before, "submission")
                query = query.where(
                    or_(
                        table.c.created_at < last["created_at"],
                        and_(table.c.created_at == last["created_at"], table.c.id < before),
                    )
                )
            ids = list(await conn.scalars(query))
            return [await self._detail(conn, submission_id) for submission_id in ids]

    async def get_media(self, media_id: str) -> Media:
        async with self._tx(read_only=True) as conn:
            return await self._media(conn, media_id)

    async def link_media_by_sha256(self, media_id: str, evidence: FetchEvidence) -> Media | None:
        async with self._tx() as conn:
            await self._media(conn, media_id)
            earlier_id = await conn.scalar(
                select(media.c.id)
                .join(results, results.c.media_id == media.c.id)
                .where(
                    media.c.sha256 == evidence.sha256,
                    media.c.same_as.is_(None),
                    media.c.id != media_id,
                )
                .order_by(media.c.created_at, media.c.id)
                .limit(1)
            )
            await conn.execute(
                update(media)
                .where(media.c.id == media_id)
                .values(same_as=earlier_id, **rows.evidence_values(evidence))
            )
            if earlier_id is None:
                return None
            shared = await self._result(conn, earlier_id)
            to_refer = rules.referral_evidence(shared) if shared is not None else None
            if to_refer is not None:
                await self._refer(conn, await self._media(conn, media_id), to_refer)
            return await self._media(conn, earlier_id)

    async def record_result(
        self,
        media_id: str,
        *,
        verdict: Verdict,
        matches: Sequence[MatchEvidence],
        query_hashes: str,
        job_id: str | None = None,
        worker_id: str | None = None,
    ) -> Result:
        async with self._tx() as conn:
            subject = await self._media(conn, media_id)
            if job_id is not None:
                await self._leased(conn, job_id, worker_id or "")
                await self._save_job(
                    conn, job_id, state=JobState.DONE, lease_owner=None, lease_expires_at=None
                )
            values = {
                "media_id": media_id,
                "verdict": Verdict(verdict).value,
                "matches": rows.encode_matches(matches),
                "query_hashes": query_hashes,
                "created_at": self._now(),
                "suppressed": await self._is_suppressed(
                    conn, subject.sha256, text_sha256(query_hashes)
                ),
                "seq": await self._next(conn, "results"),
            }
            await conn.execute(
                delete(result_references).where(result_references.c.media_id == media_id)
            )
            await conn.execute(delete(results).where(results.c.media_id == media_id))
            await conn.execute(insert(results).values(values))
            reference_ids = sorted({match.reference_id for match in matches})
            if reference_ids:
                await conn.execute(
                    insert(result_references),
                    [{"media_id": media_id, "reference_id": r} for r in reference_ids],
                )
            result = rows.result(values)
            to_refer, to_review = rules.referral_evidence(result), rules.review_evidence(result)
            if to_refer is not None:
                await self._refer_with_copies(conn, subject, to_refer)
            elif to_review is not None:
                await self._open_review(conn, subject, to_review)
        return result

    async def get_result(self, media_id: str) -> Result | None:
        async with self._tx(read_only=True) as conn:
            linked = await self._media(conn, media_id)
            row = (
                await conn.execute(
                    select(results).where(results.c.media_id == (linked.same_as or linked.id))
                )
            ).first()
        return rows.result(row._mapping) if row is not None else None

    async def get_query_hashes(self, media_id: str) -> str | None:
        async with self._tx(read_only=True) as conn:
            linked = await self._media(conn, media_id)
            record = await conn.scalar(
                select(results.c.query_hashes).where(
                    results.c.media_id == (linked.same_as or linked.id)
                )
            )
        return str(record) if record is not None else None

    async def list_query_hashes(
        self, *, since: datetime, after_media_id: str | None = None, limit: int = 100
    ) -> list[QueryHashes]:
        query = (
            select(results.c.media_id, results.c.query_hashes, results.c.created_at)
            .where(results.c.created_at >= since)
            .order_by(results.c.media_id)
            .limit(limit)
        )
        if after_media_id is not None:
            query = query.where(results.c.media_id > after_media_id)
        async with self._tx(read_only=True) as conn:
            return [
                QueryHashes(media_id=m, query_hashes=q, created_at=c)
                for m, q, c in await conn.execute(query)
            ]


def _status_condition(
    statuses: frozenset[SubmissionStatus], shared_media_id: ColumnElement[str]
) -> ColumnElement[bool]:
    """SQL for `SubmissionDetail.status in statuses`: a result makes it done; otherwise the
    state of the shared media's latest job says (as `SubmissionDetail.status` does)."""
    job_state = (
        select(jobs.c.state)
        .where(jobs.c.kind == JobKind.PROCESS_MEDIA.value, jobs.c.target_id == shared_media_id)
        .order_by(jobs.c.created_at.desc(), jobs.c.id)
        .limit(1)
        .scalar_subquery()
    )
    pending = results.c.media_id.is_(None)
    states_of = {
        SubmissionStatus.FAILED: [JobState.FAILED.value, JobState.DEAD.value],
        SubmissionStatus.FETCHING: [JobState.FETCHING.value],
        SubmissionStatus.HASHING: [JobState.HASHING.value],
        SubmissionStatus.MATCHING: [JobState.MATCHING.value, JobState.DONE.value],
    }
    conditions: list[ColumnElement[bool]] = []
    for status in statuses:
        if status is SubmissionStatus.DONE:
            conditions.append(results.c.media_id.is_not(None))
        elif status is SubmissionStatus.QUEUED:
            conditions.append(
                and_(pending, or_(job_state.is_(None), job_state == JobState.QUEUED.value))
            )
        else:
            conditions.append(and_(pending, job_state.in_(states_of[status])))
    return or_(*conditions)
