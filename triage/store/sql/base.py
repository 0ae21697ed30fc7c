"""The SQL store's foundation: engine, transactions, migrations and shared row helpers.

One Alembic history serves SQLite and PostgreSQL; `migrate()` runs it on the store's own
connection, under an advisory lock on PostgreSQL so two processes never migrate at once.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from datetime import datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.util.exc import CommandError
from sqlalchemy import ColumnElement, Label, Table, insert, or_, select, text, update
from sqlalchemy.engine import Connection, RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from triage.errors import NotFound, StoreError
from triage.models import (
    RUNNING_STATES,
    Job,
    JobKind,
    JobLane,
    JobState,
    Media,
    Reference,
    Result,
)
from triage.store import engine as db
from triage.store import rows, rules
from triage.store.policy import DEFAULT_JOB_POLICY, JobPolicy
from triage.store.rules import Clock
from triage.store.tables import (
    hashlist_state,
    jobs,
    media,
    references,
    results,
    sequences,
    submissions,
    suppressions,
)

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
# Any constant works; it names the lock that keeps two processes from migrating at once.
MIGRATION_LOCK_ID = 7_260_411
RUNNING = [state.value for state in RUNNING_STATES]


def first_submission_columns(media_id: ColumnElement[str]) -> list[Label[str | None]]:
    """`submission_id`, `external_id` and `submission_note` of the earliest submission of
    the media in `media_id`, as correlated subqueries (the report a result is tied to)."""

    def first(column: ColumnElement[str | None], name: str) -> Label[str | None]:
        return (
            select(column)
            .where(submissions.c.media_id == media_id)
            .order_by(submissions.c.created_at, submissions.c.id)
            .limit(1)
            .scalar_subquery()
            .label(name)
        )

    return [
        first(submissions.c.id, "submission_id"),
        first(submissions.c.external_id, "external_id"),
        first(submissions.c.note, "submission_note"),
        first(submissions.c.upload_filename, "upload_filename"),
    ]


def _run_alembic_upgrade(connection: Connection, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


class SqlBase:
    """Engine, clock and transactions, plus the row helpers every concern shares."""

    def __init__(
        self, url: str, *, policy: JobPolicy = DEFAULT_JOB_POLICY, clock: Clock = rules.utc_now
    ) -> None:
        self._engine = db.create_engine(url)
        self._policy = policy
        self._now = clock

    def _tx(self, *, read_only: bool = False) -> AbstractAsyncContextManager[AsyncConnection]:
        return db.transaction(self._engine, read_only=read_only)

    async def migrate(self, revision: str = "head") -> None:
        """Upgrade the schema to `revision` (default: the newest); never downgrades."""
        try:
            async with self._tx() as conn:
                if conn.dialect.name == "postgresql":
                    await conn.execute(
                        text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK_ID}
                    )
                await conn.run_sync(_run_alembic_upgrade, revision)
        except CommandError as exc:
            raise StoreError(f"cannot migrate to {revision}: {exc}") from exc

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
    async def _row_by_id(
        conn: AsyncConnection, table: Table, row_id: str, kind: str, *, lock: bool = False
    ) -> RowMapping:
        """The row of `table` with this id, locked for update with `lock`; NotFound names
        the `kind` of thing missing."""
        query = select(table).where(table.c.id == row_id)
        if lock:
            query = query.with_for_update()
        row = (await conn.execute(query)).first()
        if row is None:
            raise NotFound(f"no {kind} {row_id}")
        return row._mapping

    @classmethod
    async def _reference_row(
        cls, conn: AsyncConnection, reference_id: str, *, lock: bool = False
    ) -> dict[str, Any]:
        return dict(await cls._row_by_id(conn, references, reference_id, "reference", lock=lock))

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

    @classmethod
    async def _media(cls, conn: AsyncConnection, media_id: str) -> Media:
        return rows.media(await cls._row_by_id(conn, media, media_id, "media"))

    @staticmethod
    async def _result(conn: AsyncConnection, media_id: str) -> Result | None:
        row = (await conn.execute(select(results).where(results.c.media_id == media_id))).first()
        return rows.result(row._mapping) if row is not None else None

    async def _insert_job(
        self,
        conn: AsyncConnection,
        kind: JobKind,
        target_id: str,
        run_after: datetime,
        *,
        key_id: str | None = None,
        lane: JobLane = JobLane.SHORT,
    ) -> Job:
        now = self._now()
        values = {
            "id": rules.new_id("job"),
            "kind": kind.value,
            "target_id": target_id,
            "state": JobState.QUEUED.value,
            "attempts": 0,
            "max_attempts": self._policy.max_attempts,
            "lease_owner": None,
            "lease_expires_at": None,
            "heartbeat_at": None,
            "run_after": run_after,
            "last_error": None,
            "created_at": now,
            "updated_at": now,
            "key_id": key_id,
            "lane": JobLane(lane).value,
            "claimed_at": None,
        }
        await conn.execute(insert(jobs).values(values))
        return rows.job(values)

    async def _save_job(self, conn: AsyncConnection, job_id: str, **values: Any) -> Job:
        values = {k: v.value if isinstance(v, JobState | JobLane) else v for k, v in values.items()}
        values["updated_at"] = self._now()
        row = (
            await conn.execute(
                update(jobs).where(jobs.c.id == job_id).values(values).returning(*jobs.c)
            )
        ).one()
        return rows.job(row._mapping)

    @classmethod
    async def _job(cls, conn: AsyncConnection, job_id: str, *, lock: bool = False) -> Job:
        return rows.job(await cls._row_by_id(conn, jobs, job_id, "job", lock=lock))

    async def _leased(self, conn: AsyncConnection, job_id: str, worker_id: str) -> Job:
        job = await self._job(conn, job_id, lock=True)
        rules.check_lease_held(job, worker_id)
        return job

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

    async def _media_job_row(self, conn: AsyncConnection, media_id: str) -> Any:
        return (
            await conn.execute(
                select(jobs)
                .where(jobs.c.kind == JobKind.PROCESS_MEDIA.value, jobs.c.target_id == media_id)
                .order_by(jobs.c.created_at.desc(), jobs.c.id)
                .limit(1)
            )
        ).first()
