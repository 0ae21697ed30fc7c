"""The hash list in SQL; a counter row versions every change (see `_bump_version`)."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import insert, select

from triage.errors import Conflict
from triage.models import (
    JobKind,
    Reference,
    ReferenceChanges,
    ReferenceHashes,
    ReferenceImport,
    ReferenceStatus,
)
from triage.store import rows, rules
from triage.store.sql.base import SqlBase
from triage.store.tables import hashlist_state, references

_IDS_PER_QUERY = 500


class SqlReferences(SqlBase):
    """Hash-list operations."""

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
    ) -> Reference:
        rules.check_reference_source(hash_record, upload_path)
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
                    "status": rules.new_reference_status(hash_record).value,
                    "frame_count": frame_count,
                    "duration_seconds": duration_seconds,
                    "upload_path": upload_path,
                    "version": await self._bump_version(conn),
                    "hash_record": hash_record,
                    "full_frames_only": rules.full_frames_only(hash_record),
                }
                await conn.execute(insert(references).values(values))
                if hash_record is None:
                    await self._insert_job(conn, JobKind.HASH_REFERENCE, reference_id, now)
        except Conflict as exc:
            raise Conflict(f"reference {reference_id} already exists") from exc
        return rows.reference(values)

    async def import_references(
        self, records: Sequence[ReferenceImport], *, added_by: str
    ) -> list[Reference]:
        ids = [record.reference_id for record in records]
        now = self._now()
        added = []
        try:
            async with self._tx() as conn:
                taken: set[str] = set()
                # In slices: SQLite caps the number of bound parameters in one statement.
                for start in range(0, len(ids), _IDS_PER_QUERY):
                    chunk = ids[start : start + _IDS_PER_QUERY]
                    found = await conn.scalars(
                        select(references.c.id).where(references.c.id.in_(chunk))
                    )
                    taken.update(found)
                rules.check_import_ids(records, taken)
                for record in records:
                    values = {
                        "id": record.reference_id,
                        "label": record.label,
                        "source": record.source,
                        "added_by": added_by,
                        "added_at": now,
                        "updated_at": now,
                        "status": ReferenceStatus.ACTIVE.value,
                        "frame_count": record.frame_count,
                        "duration_seconds": record.duration_seconds,
                        "upload_path": None,
                        "version": await self._bump_version(conn),
                        "hash_record": record.hash_record,
                        "full_frames_only": rules.full_frames_only(record.hash_record),
                    }
                    await conn.execute(insert(references).values(values))
                    added.append(rows.reference(values))
        except Conflict as exc:
            # Also a concurrent import of the same id, caught by the primary key at commit.
            raise Conflict(f"the import clashes with an existing reference: {exc}") from exc
        return added

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
        self, reference_id: str, hash_record: str, *, frame_count: int, duration_seconds: float
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
                full_frames_only=rules.full_frames_only(hash_record),
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
