"""The SQL store: SQLite (aiosqlite) and PostgreSQL (asyncpg) through SQLAlchemy Core.

One Alembic history serves both. Job claims lock the chosen row with
``FOR UPDATE SKIP LOCKED`` on PostgreSQL; on SQLite the whole claim runs under
``BEGIN IMMEDIATE``, which admits one writer at a time.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Select, and_, delete, false, func, insert, or_, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from triage.errors import Conflict, InvalidInput, LeaseLost, NotFound, StoreError
from triage.models import (
    RUNNING_STATES,
    ApiKey,
    AuditEntry,
    FetchEvidence,
    Job,
    JobKind,
    JobState,
    MatchEvidence,
    MatchRecord,
    Media,
    QueryHashes,
    QueueStat,
    Reference,
    ReferenceChanges,
    ReferenceHashes,
    ReferenceStatus,
    Referral,
    Result,
    ReviewDecision,
    ReviewItem,
    ReviewState,
    Scope,
    SubmissionDetail,
    SubmitOutcome,
    Suppression,
    Verdict,
    text_sha256,
)
from triage.store import engine as db
from triage.store import rows, rules
from triage.store.rules import Clock
from triage.store.tables import (
    api_keys,
    audit_log,
    hashlist_state,
    jobs,
    media,
    references,
    referrals,
    result_references,
    results,
    review_items,
    sequences,
    sink_cursors,
    suppressions,
)
from triage.store.tables import submissions as submissions_table

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Any constant works; it names the lock that keeps two processes from migrating at once.
MIGRATION_LOCK_ID = 7_260_411
SUBMIT_TRIES = 3
RUNNING = [state.value for state in RUNNING_STATES]


def _run_alembic_upgrade(connection: Connection, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


class SqlStore:
    def __init__(self, url: str, *, clock: Clock = rules.utc_now) -> None:
        self._engine = db.create_engine(url)
        self._now = clock

    def _tx(self, *, read_only: bool = False) -> AbstractAsyncContextManager[AsyncConnection]:
        return db.transaction(self._engine, read_only=read_only)

    # --- lifecycle ----------------------------------------------------------------------------

    async def migrate(self, revision: str = "head") -> None:
        """Upgrade the schema to `revision` (default: the newest); never downgrades."""
        async with self._tx() as conn:
            if conn.dialect.name == "postgresql":
                await conn.execute(
                    text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK_ID}
                )
            await conn.run_sync(_run_alembic_upgrade, revision)

    async def schema_revision(self) -> str | None:
        """The Alembic revision the database is at (None before the first migration)."""
        async with self._tx(read_only=True) as conn:
            return await conn.run_sync(
                lambda sync: MigrationContext.configure(sync).get_current_revision()
            )

    async def close(self) -> None:
        await self._engine.dispose()

    async def ping(self) -> None:
        async with self._tx(read_only=True) as conn:
            await conn.execute(text("SELECT 1"))

    # --- API keys -----------------------------------------------------------------------------

    async def create_api_key(
        self,
        name: str,
        scopes: Collection[Scope],
        digest: str,
        *,
        hosts: Sequence[str] | None = None,
    ) -> ApiKey:
        if not scopes:
            raise InvalidInput("a key needs at least one scope")
        values = {
            "id": rules.new_id("key"),
            "name": name,
            "digest": digest,
            "scopes": rows.encode_scopes(scopes),
            "hosts": list(hosts) if hosts is not None else None,
            "created_at": self._now(),
            "revoked_at": None,
        }
        try:
            async with self._tx() as conn:
                await conn.execute(insert(api_keys).values(values))
        except Conflict as exc:
            raise Conflict("a key with this digest already exists") from exc
        return rows.api_key(values)

    async def find_active_api_key(self, digest: str) -> ApiKey | None:
        async with self._tx(read_only=True) as conn:
            row = (
                await conn.execute(
                    select(api_keys).where(
                        api_keys.c.digest == digest, api_keys.c.revoked_at.is_(None)
                    )
                )
            ).first()
        return rows.api_key(row._mapping) if row is not None else None

    async def list_api_keys(self) -> list[ApiKey]:
        async with self._tx(read_only=True) as conn:
            result = await conn.execute(
                select(api_keys).order_by(api_keys.c.created_at, api_keys.c.id)
            )
            return [rows.api_key(row._mapping) for row in result]

    async def revoke_api_key(self, key_id: str) -> ApiKey:
        async with self._tx() as conn:
            await conn.execute(
                update(api_keys)
                .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=self._now())
            )
            row = (await conn.execute(select(api_keys).where(api_keys.c.id == key_id))).first()
        if row is None:
            raise NotFound(f"no key {key_id}")
        return rows.api_key(row._mapping)

    # --- references ---------------------------------------------------------------------------

    @staticmethod
    async def _bump_version(conn: AsyncConnection) -> int:
        # The row lock on the counter orders writers, so versions commit in increasing order.
        version = await conn.scalar(
            update(hashlist_state)
            .where(hashlist_state.c.id == 1)
            .values(version=hashlist_state.c.version + 1)
            .returning(hashlist_state.c.version)
        )
        return int(version or 0)

    @staticmethod
    async def _reference_row(
        conn: AsyncConnection, reference_id: str, *, lock: bool = False
    ) -> dict[str, Any]:
        query = select(references).where(references.c.id == reference_id)
        if lock:
            query = query.with_for_update()
        row = (await conn.execute(query)).first()
        if row is None:
            raise NotFound(f"no reference {reference_id}")
        return dict(row._mapping)

    async def _update_reference(
        self, conn: AsyncConnection, reference_id: str, **values: Any
    ) -> Reference:
        values.update(updated_at=self._now(), version=await self._bump_version(conn))
        row = (
            await conn.execute(
                update(references)
                .where(references.c.id == reference_id)
                .values(values)
                .returning(*references.c)
            )
        ).one()
        return rows.reference(row._mapping)

    async def add_reference(
        self,
        *,
        label: str,
        source: str,
        added_by: str,
        hash_record: str | None = None,
        frame_count: int = 0,
        duration_seconds: float = 0.0,
        upload_path: str | None = None,
        reference_id: str | None = None,
        max_attempts: int = 5,
    ) -> Reference:
        if (hash_record is None) == (upload_path is None):
            raise InvalidInput("a reference needs either its hash record or an upload to hash")
        reference_id = reference_id or rules.new_id("ref")
        now = self._now()
        try:
            async with self._tx() as conn:
                values = {
                    "id": reference_id,
                    "label": label,
                    "source": source,
                    "added_by": added_by,
                    "added_at": now,
                    "updated_at": now,
                    "status": (
                        ReferenceStatus.ACTIVE
                        if hash_record is not None
                        else ReferenceStatus.PENDING
                    ).value,
                    "frame_count": frame_count,
                    "duration_seconds": duration_seconds,
                    "upload_path": upload_path,
                    "version": await self._bump_version(conn),
                    "hash_record": hash_record,
                }
                await conn.execute(insert(references).values(values))
                if hash_record is None:
                    await self._insert_job(
                        conn, JobKind.HASH_REFERENCE, reference_id, max_attempts, now
                    )
        except Conflict as exc:
            raise Conflict(f"reference {reference_id} already exists") from exc
        return rows.reference(values)

    async def get_reference(self, reference_id: str) -> Reference:
        async with self._tx(read_only=True) as conn:
            return rows.reference(await self._reference_row(conn, reference_id))

    async def list_references(
        self, *, statuses: Collection[ReferenceStatus] | None = None
    ) -> list[Reference]:
        query = select(*[c for c in references.c if c.name != "hash_record"]).order_by(
            references.c.added_at, references.c.id
        )
        if statuses is not None:
            query = query.where(references.c.status.in_([s.value for s in statuses]))
        async with self._tx(read_only=True) as conn:
            return [rows.reference(row._mapping) for row in await conn.execute(query)]

    async def set_reference_status(self, reference_id: str, status: ReferenceStatus) -> Reference:
        async with self._tx() as conn:
            current = rows.reference(await self._reference_row(conn, reference_id, lock=True))
            rules.check_reference_status_change(current, status)
            return await self._update_reference(conn, reference_id, status=status.value)

    async def get_reference_hashes(self, reference_id: str) -> str | None:
        async with self._tx(read_only=True) as conn:
            row = await self._reference_row(conn, reference_id)
        record: str | None = row["hash_record"]
        return record

    async def set_reference_hashes(
        self,
        reference_id: str,
        hash_record: str,
        *,
        frame_count: int,
        duration_seconds: float,
    ) -> Reference:
        async with self._tx() as conn:
            current = rows.reference(await self._reference_row(conn, reference_id, lock=True))
            status = current.status
            if status in (ReferenceStatus.PENDING, ReferenceStatus.FAILED):
                status = ReferenceStatus.ACTIVE
            return await self._update_reference(
                conn,
                reference_id,
                status=status.value,
                hash_record=hash_record,
                frame_count=frame_count,
                duration_seconds=duration_seconds,
            )

    async def hashlist_version(self) -> int:
        async with self._tx(read_only=True) as conn:
            return int(await conn.scalar(select(hashlist_state.c.version)) or 0)

    async def references_changed_since(self, version: int) -> ReferenceChanges:
        async with self._tx(read_only=True) as conn:
            # Read the counter first: anything newer that the query below also returns is
            # sent again next time, which is harmless; nothing older can be missed.
            current = int(await conn.scalar(select(hashlist_state.c.version)) or 0)
            result = await conn.execute(
                select(references)
                .where(references.c.version > version)
                .order_by(references.c.version)
            )
            changed = tuple(
                ReferenceHashes(reference=rows.reference(row._mapping), hash_record=row.hash_record)
                for row in result
            )
        return ReferenceChanges(version=max(current, version), changed=changed)

    # --- submissions and media ----------------------------------------------------------------

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

    async def _media_job_row(self, conn: AsyncConnection, media_id: str) -> Any:
        return (
            await conn.execute(
                select(jobs)
                .where(jobs.c.kind == JobKind.PROCESS_MEDIA.value, jobs.c.target_id == media_id)
                .order_by(jobs.c.created_at.desc(), jobs.c.id)
                .limit(1)
            )
        ).first()

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
        max_attempts: int,
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
        await self._insert_job(conn, JobKind.PROCESS_MEDIA, media_id, max_attempts, now)
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
        max_attempts: int,
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
                media_id = await self._insert_media(conn, max_attempts=max_attempts, **new_media)
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
        max_attempts: int = 5,
    ) -> SubmitOutcome:
        return await self._submit(
            select(media.c.id).where(media.c.url == url),
            key_id=key_id,
            idempotency_key=idempotency_key,
            max_attempts=max_attempts,
            new_media={"url": url, "upload_path": None, "sha256": None},
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
        max_attempts: int = 5,
    ) -> SubmitOutcome:
        return await self._submit(
            select(media.c.id)
            .where(media.c.sha256 == sha256, media.c.same_as.is_(None))
            .order_by(media.c.created_at, media.c.id)
            .limit(1),
            key_id=key_id,
            idempotency_key=idempotency_key,
            max_attempts=max_attempts,
            new_media={"url": None, "upload_path": upload_path, "sha256": sha256},
            submission={
                "url": None,
                "upload_filename": upload_filename,
                "note": note,
                "external_id": external_id,
            },
        )

    @staticmethod
    async def _media(conn: AsyncConnection, media_id: str) -> Media:
        row = (await conn.execute(select(media).where(media.c.id == media_id))).first()
        if row is None:
            raise NotFound(f"no media {media_id}")
        return rows.media(row._mapping)

    async def get_submission(self, submission_id: str) -> SubmissionDetail:
        async with self._tx(read_only=True) as conn:
            row = (
                await conn.execute(
                    select(submissions_table).where(submissions_table.c.id == submission_id)
                )
            ).first()
            if row is None:
                raise NotFound(f"no submission {submission_id}")
            submission = rows.submission(row._mapping)
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
            if (
                shared is not None
                and shared.verdict is Verdict.CONFIRMED
                and not shared.suppressed
                and shared.best is not None
            ):
                await self._refer(conn, await self._media(conn, media_id), shared.best)
            return await self._media(conn, earlier_id)

    # --- results ------------------------------------------------------------------------------

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
            best = result.best
            if not result.suppressed and best is not None:
                if result.verdict is Verdict.CONFIRMED:
                    await self._refer_with_copies(conn, subject, best)
                elif result.verdict is Verdict.REVIEW:
                    await self._open_review(conn, subject, best)
        return result

    @staticmethod
    async def _result(conn: AsyncConnection, media_id: str) -> Result | None:
        row = (await conn.execute(select(results).where(results.c.media_id == media_id))).first()
        return rows.result(row._mapping) if row is not None else None

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

    # --- jobs ---------------------------------------------------------------------------------

    async def _insert_job(
        self,
        conn: AsyncConnection,
        kind: JobKind,
        target_id: str,
        max_attempts: int,
        run_after: datetime,
    ) -> Job:
        if max_attempts < 1:
            raise InvalidInput(f"max_attempts must be at least 1, got {max_attempts}")
        now = self._now()
        values = {
            "id": rules.new_id("job"),
            "kind": kind.value,
            "target_id": target_id,
            "state": JobState.QUEUED.value,
            "attempts": 0,
            "max_attempts": max_attempts,
            "lease_owner": None,
            "lease_expires_at": None,
            "heartbeat_at": None,
            "run_after": run_after,
            "last_error": None,
            "created_at": now,
            "updated_at": now,
        }
        await conn.execute(insert(jobs).values(values))
        return rows.job(values)

    async def _save_job(self, conn: AsyncConnection, job_id: str, **values: Any) -> Job:
        values = {k: v.value if isinstance(v, JobState) else v for k, v in values.items()}
        values["updated_at"] = self._now()
        row = (
            await conn.execute(
                update(jobs).where(jobs.c.id == job_id).values(values).returning(*jobs.c)
            )
        ).one()
        return rows.job(row._mapping)

    @staticmethod
    async def _job(conn: AsyncConnection, job_id: str, *, lock: bool = False) -> Job:
        query = select(jobs).where(jobs.c.id == job_id)
        if lock:
            query = query.with_for_update()
        row = (await conn.execute(query)).first()
        if row is None:
            raise NotFound(f"no job {job_id}")
        return rows.job(row._mapping)

    async def _leased(self, conn: AsyncConnection, job_id: str, worker_id: str) -> Job:
        job = await self._job(conn, job_id, lock=True)
        if not job.state.running or job.lease_owner != worker_id:
            raise LeaseLost(f"worker {worker_id} does not hold job {job_id} ({job.state})")
        return job

    async def _set_reference_failed(
        self, conn: AsyncConnection, reference_id: str, *, failed: bool
    ) -> None:
        # A reference follows its hashing job: failed with it, pending again on retry.
        before, after = (
            (ReferenceStatus.PENDING, ReferenceStatus.FAILED)
            if failed
            else (ReferenceStatus.FAILED, ReferenceStatus.PENDING)
        )
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
        max_attempts: int = 5,
        run_after: datetime | None = None,
    ) -> Job:
        async with self._tx() as conn:
            return await self._insert_job(
                conn, kind, target_id, max_attempts, run_after or self._now()
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
        lease_seconds: float,
        kinds: Collection[JobKind] | None = None,
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
            due = (
                select(jobs)
                .where(
                    or_(
                        and_(jobs.c.state == JobState.QUEUED.value, jobs.c.run_after <= now),
                        and_(expired, jobs.c.attempts < jobs.c.max_attempts),
                    )
                )
                .order_by(jobs.c.run_after, jobs.c.created_at, jobs.c.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            )
            if kind_filter is not None:
                due = due.where(kind_filter)
            row = (await conn.execute(due)).first()
            if row is None:
                return None
            job = rows.job(row._mapping)
            return await self._save_job(
                conn,
                job.id,
                state=job.kind.first_state,
                attempts=job.attempts + 1,
                lease_owner=worker_id,
                lease_expires_at=now + timedelta(seconds=lease_seconds),
                heartbeat_at=now,
            )

    async def heartbeat(self, job_id: str, worker_id: str, *, lease_seconds: float) -> Job:
        async with self._tx() as conn:
            await self._leased(conn, job_id, worker_id)
            now = self._now()
            return await self._save_job(
                conn,
                job_id,
                heartbeat_at=now,
                lease_expires_at=now + timedelta(seconds=lease_seconds),
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
        backoff_base_seconds: float = 2.0,
        backoff_max_seconds: float = 300.0,
    ) -> Job:
        async with self._tx() as conn:
            job = await self._leased(conn, job_id, worker_id)
            if not retryable:
                return await self._finish_failed(conn, job, JobState.FAILED, error)
            if job.attempts >= job.max_attempts:
                return await self._finish_failed(conn, job, JobState.DEAD, error)
            delay = rules.backoff_seconds(job.attempts, backoff_base_seconds, backoff_max_seconds)
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
            )

    async def retry_job(self, job_id: str) -> Job:
        async with self._tx() as conn:
            job = await self._job(conn, job_id, lock=True)
            if job.state not in rules.RETRYABLE_JOB_STATES:
                raise Conflict(f"job {job_id} is {job.state}; only failed or dead jobs are retried")
            return await self._reset_job(conn, job)

    async def queue_stats(self) -> list[QueueStat]:
        async with self._tx(read_only=True) as conn:
            now = self._now()
            result = await conn.execute(
                select(jobs.c.state, func.count(), func.min(jobs.c.created_at)).group_by(
                    jobs.c.state
                )
            )
            by_state = {JobState(state): (int(count), oldest) for state, count, oldest in result}
        stats = []
        for state in JobState:
            count, oldest = by_state.get(state, (0, None))
            stats.append(
                QueueStat(
                    state=state,
                    count=count,
                    oldest_age_seconds=(now - oldest).total_seconds() if oldest else None,
                )
            )
        return stats

    # --- after the verdict --------------------------------------------------------------------

    @staticmethod
    async def _next(conn: AsyncConnection, sequence: str) -> int:
        # The row lock orders writers, so cursors commit in increasing order and a reader
        # paging by cursor never skips a row that commits later with a smaller one.
        value = await conn.scalar(
            update(sequences)
            .where(sequences.c.name == sequence)
            .values(value=sequences.c.value + 1)
            .returning(sequences.c.value)
        )
        if value is None:
            raise StoreError(f"sequence {sequence} missing: the schema is not migrated")
        return int(value)

    @staticmethod
    async def _is_suppressed(
        conn: AsyncConnection, sha256: str | None, query_hashes_sha256: str
    ) -> bool:
        condition = suppressions.c.query_hashes_sha256 == query_hashes_sha256
        if sha256 is not None:
            condition = or_(condition, suppressions.c.sha256 == sha256)
        found = await conn.scalar(select(suppressions.c.id).where(condition).limit(1))
        return found is not None

    async def _refer(self, conn: AsyncConnection, subject: Media, best: MatchEvidence) -> None:
        key = rules.referral_subject(subject.url, subject.sha256)
        if key is None:
            return
        exists = select(referrals.c.seq).where(referrals.c.subject == key)
        if await conn.scalar(exists) is not None:
            return
        seq = await self._next(conn, "referrals")
        if await conn.scalar(exists) is not None:  # referred while we waited for the lock
            return
        await conn.execute(
            insert(referrals).values(
                seq=seq,
                id=rules.new_id("rfl"),
                subject=key,
                media_id=subject.id,
                url=subject.url,
                host=rules.url_host(subject.url),
                sha256=subject.sha256,
                reference_id=best.reference_id,
                label=best.label,
                evidence=best.model_dump(mode="json"),
                created_at=self._now(),
            )
        )

    async def _refer_with_copies(
        self, conn: AsyncConnection, subject: Media, best: MatchEvidence
    ) -> None:
        await self._refer(conn, subject, best)
        copies = await conn.execute(
            select(media).where(media.c.same_as == subject.id).order_by(media.c.created_at)
        )
        for row in copies.all():
            await self._refer(conn, rows.media(row._mapping), best)

    async def _open_review(
        self, conn: AsyncConnection, subject: Media, best: MatchEvidence
    ) -> None:
        open_item = await conn.scalar(
            select(review_items.c.id).where(
                review_items.c.media_id == subject.id,
                review_items.c.state == ReviewState.OPEN.value,
            )
        )
        if open_item is not None:
            return
        await conn.execute(
            insert(review_items).values(
                id=rules.new_id("rev"),
                media_id=subject.id,
                url=subject.url,
                sha256=subject.sha256,
                reference_id=best.reference_id,
                label=best.label,
                score=best.score,
                state=ReviewState.OPEN.value,
                created_at=self._now(),
            )
        )

    @staticmethod
    def _host_filter(column: Any, hosts: Collection[str]) -> Any:
        wanted = rules.normal_hosts(hosts)
        if not wanted:
            return false()
        return or_(
            column.in_(wanted), *(column.endswith("." + host, autoescape=True) for host in wanted)
        )

    async def list_referrals(
        self, *, after: int = 0, limit: int = 100, hosts: Collection[str] | None = None
    ) -> list[Referral]:
        query = (
            select(referrals).where(referrals.c.seq > after).order_by(referrals.c.seq).limit(limit)
        )
        if hosts is not None:
            query = query.where(self._host_filter(referrals.c.host, hosts))
        async with self._tx(read_only=True) as conn:
            return [rows.referral(row._mapping) for row in await conn.execute(query)]

    async def get_sink_cursor(self, sink: str) -> int:
        async with self._tx(read_only=True) as conn:
            cursor = await conn.scalar(
                select(sink_cursors.c.cursor).where(sink_cursors.c.sink == sink)
            )
        return int(cursor or 0)

    async def set_sink_cursor(self, sink: str, cursor: int) -> int:
        # Two first writers of one sink race on its primary key; the loser tries again.
        for attempt in range(2):
            try:
                async with self._tx() as conn:
                    stored = await conn.scalar(
                        select(sink_cursors.c.cursor)
                        .where(sink_cursors.c.sink == sink)
                        .with_for_update()
                    )
                    if stored is None:
                        await conn.execute(insert(sink_cursors).values(sink=sink, cursor=cursor))
                        return cursor
                    if cursor > stored:
                        await conn.execute(
                            update(sink_cursors)
                            .where(sink_cursors.c.sink == sink)
                            .values(cursor=cursor)
                        )
                        return cursor
                    return int(stored)
            except Conflict:
                if attempt == 1:
                    raise
        return cursor

    async def list_matches(
        self,
        *,
        after: int = 0,
        limit: int = 100,
        verdicts: Collection[Verdict] | None = None,
        reference_id: str | None = None,
        hosts: Collection[str] | None = None,
    ) -> list[MatchRecord]:
        query = (
            select(
                results.c.seq,
                results.c.media_id,
                results.c.verdict,
                results.c.matches,
                results.c.suppressed,
                results.c.created_at,
                media.c.url,
                media.c.host,
                media.c.sha256,
            )
            .join(media, media.c.id == results.c.media_id)
            .where(results.c.seq > after)
            .order_by(results.c.seq)
            .limit(limit)
        )
        if verdicts is not None:
            query = query.where(results.c.verdict.in_([Verdict(v).value for v in verdicts]))
        if reference_id is not None:
            query = query.where(
                select(result_references.c.media_id)
                .where(
                    result_references.c.media_id == results.c.media_id,
                    result_references.c.reference_id == reference_id,
                )
                .exists()
            )
        if hosts is not None:
            query = query.where(self._host_filter(media.c.host, hosts))
        async with self._tx(read_only=True) as conn:
            return [rows.match_record(row._mapping) for row in await conn.execute(query)]

    async def list_review_items(
        self, *, states: Collection[ReviewState] | None = None, limit: int = 100
    ) -> list[ReviewItem]:
        wanted = [s.value for s in (states if states is not None else {ReviewState.OPEN})]
        query = (
            select(review_items)
            .where(review_items.c.state.in_(wanted))
            .order_by(review_items.c.created_at, review_items.c.id)
            .limit(limit)
        )
        async with self._tx(read_only=True) as conn:
            return [rows.review_item(row._mapping) for row in await conn.execute(query)]

    @staticmethod
    async def _review_item(
        conn: AsyncConnection, item_id: str, *, lock: bool = False
    ) -> ReviewItem:
        query = select(review_items).where(review_items.c.id == item_id)
        if lock:
            query = query.with_for_update()
        row = (await conn.execute(query)).first()
        if row is None:
            raise NotFound(f"no review item {item_id}")
        return rows.review_item(row._mapping)

    async def get_review_item(self, item_id: str) -> ReviewItem:
        async with self._tx(read_only=True) as conn:
            return await self._review_item(conn, item_id)

    async def decide_review(
        self,
        item_id: str,
        decision: ReviewDecision,
        *,
        decided_by: str,
        note: str | None = None,
    ) -> ReviewItem:
        async with self._tx() as conn:
            item = await self._review_item(conn, item_id, lock=True)
            if item.state is not ReviewState.OPEN:
                raise Conflict(f"review item {item_id} was already decided ({item.state})")
            subject = await self._media(conn, item.media_id)
            result = await self._result(conn, subject.id)
            now = self._now()
            if decision is ReviewDecision.CONFIRM:
                state = ReviewState.CONFIRMED
                changes: dict[str, Any] = {"verdict": Verdict.CONFIRMED.value}
            else:
                state = ReviewState.REJECTED
                changes = {"verdict": Verdict.NONE.value, "suppressed": True}
            changes["seq"] = await self._next(conn, "results")
            await conn.execute(
                update(results).where(results.c.media_id == subject.id).values(changes)
            )
            if decision is ReviewDecision.CONFIRM:
                if result is not None and result.best is not None:
                    await self._refer_with_copies(conn, subject, result.best)
            else:
                query_hashes = await conn.scalar(
                    select(results.c.query_hashes).where(results.c.media_id == subject.id)
                )
                await conn.execute(
                    insert(suppressions).values(
                        id=rules.new_id("sup"),
                        sha256=subject.sha256,
                        query_hashes_sha256=text_sha256(query_hashes) if query_hashes else None,
                        review_item_id=item.id,
                        created_by=decided_by,
                        created_at=now,
                    )
                )
            await conn.execute(
                update(review_items)
                .where(review_items.c.id == item_id)
                .values(state=state.value, decided_by=decided_by, decided_at=now, note=note)
            )
            await self._append_audit(
                conn,
                actor=decided_by,
                action=f"review.{decision.value}",
                target=item_id,
                details={"media_id": subject.id, "note": note},
            )
            return await self._review_item(conn, item_id)

    async def list_suppressions(self) -> list[Suppression]:
        async with self._tx(read_only=True) as conn:
            result = await conn.execute(
                select(suppressions).order_by(suppressions.c.created_at, suppressions.c.id)
            )
            return [rows.suppression(row._mapping) for row in result]

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

    async def _append_audit(
        self,
        conn: AsyncConnection,
        *,
        actor: str,
        action: str,
        target: str | None,
        details: Mapping[str, Any] | None,
    ) -> AuditEntry:
        values = {
            "seq": await self._next(conn, "audit"),
            "at": self._now(),
            "actor": actor,
            "action": action,
            "target": target,
            "details": dict(details or {}),
        }
        await conn.execute(insert(audit_log).values(values))
        return rows.audit_entry(values)

    async def append_audit(
        self,
        *,
        actor: str,
        action: str,
        target: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> AuditEntry:
        async with self._tx() as conn:
            return await self._append_audit(
                conn, actor=actor, action=action, target=target, details=details
            )

    async def list_audit(self, *, after: int = 0, limit: int = 100) -> list[AuditEntry]:
        query = (
            select(audit_log).where(audit_log.c.seq > after).order_by(audit_log.c.seq).limit(limit)
        )
        async with self._tx(read_only=True) as conn:
            return [rows.audit_entry(row._mapping) for row in await conn.execute(query)]
