"""The hash list in memory, versioned by a counter."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from triage.errors import Conflict
from triage.models import (
    JobKind,
    Reference,
    ReferenceChanges,
    ReferenceHashes,
    ReferenceImport,
    ReferenceStatus,
)
from triage.store import rules
from triage.store.memory.base import MemoryBase


class MemoryReferences(MemoryBase):
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
        if reference_id in self._references:
            raise Conflict(f"reference {reference_id} already exists")
        now = self._now()
        reference = Reference(
            id=reference_id,
            label=label,
            source=source,
            added_by=added_by,
            added_at=now,
            updated_at=now,
            status=rules.new_reference_status(hash_record),
            frame_count=frame_count,
            duration_seconds=duration_seconds,
            upload_path=upload_path,
            version=self._bump_version(),
            full_frames_only=rules.full_frames_only(hash_record),
        )
        self._references[reference_id] = reference
        self._reference_hashes[reference_id] = hash_record
        if hash_record is None:
            self._new_job(JobKind.HASH_REFERENCE, reference_id, now)
        return reference

    async def import_references(
        self, records: Sequence[ReferenceImport], *, added_by: str
    ) -> list[Reference]:
        rules.check_import_ids(records, self._references.keys())
        now = self._now()
        added = []
        # No await from the check to the last insert: another task sees all of them or none.
        for record in records:
            reference = Reference(
                id=record.reference_id,
                label=record.label,
                source=record.source,
                added_by=added_by,
                added_at=now,
                updated_at=now,
                status=ReferenceStatus.ACTIVE,
                frame_count=record.frame_count,
                duration_seconds=record.duration_seconds,
                version=self._bump_version(),
                full_frames_only=rules.full_frames_only(record.hash_record),
            )
            self._references[reference.id] = reference
            self._reference_hashes[reference.id] = record.hash_record
            added.append(reference)
        return added

    async def get_reference(self, reference_id: str) -> Reference:
        return self._reference(reference_id)

    async def list_references(
        self, *, statuses: Collection[ReferenceStatus] | None = None
    ) -> list[Reference]:
        return [
            reference
            for reference in self._references.values()
            if statuses is None or reference.status in statuses
        ]

    async def set_reference_status(self, reference_id: str, status: ReferenceStatus) -> Reference:
        reference = self._reference(reference_id)
        rules.check_reference_status_change(reference, status)
        return self._update_reference(reference, status=status)

    async def get_reference_hashes(self, reference_id: str) -> str | None:
        self._reference(reference_id)
        return self._reference_hashes[reference_id]

    async def set_reference_hashes(
        self, reference_id: str, hash_record: str, *, frame_count: int, duration_seconds: float
    ) -> Reference:
        reference = self._reference(reference_id)
        status = reference.status
        if status in (ReferenceStatus.PENDING, ReferenceStatus.FAILED):
            status = ReferenceStatus.ACTIVE
        self._reference_hashes[reference_id] = hash_record
        return self._update_reference(
            reference,
            status=status,
            frame_count=frame_count,
            duration_seconds=duration_seconds,
            full_frames_only=rules.full_frames_only(hash_record),
        )

    async def hashlist_version(self) -> int:
        return self._hashlist_version

    async def references_changed_since(self, version: int) -> ReferenceChanges:
        changed = sorted(
            (r for r in self._references.values() if r.version > version), key=lambda r: r.version
        )
        return ReferenceChanges(
            version=max(self._hashlist_version, version),
            changed=tuple(
                ReferenceHashes(reference=r, hash_record=self._reference_hashes[r.id])
                for r in changed
            ),
        )
