"""The hash list: references to known attack videos, their hash records and the version that
grows with every change (what the live index follows)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Protocol

from triage.models import Reference, ReferenceChanges, ReferenceImport, ReferenceStatus


class HashList(Protocol):
    """References, their hashes and the hash-list version."""

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
        """Add a reference: `active` with its `hash_record`, or, given only `upload_path`,
        `pending` with a `hash_reference` job enqueued in the same transaction.

        Exactly one of `hash_record` and `upload_path` is required (`InvalidInput`).
        `reference_id` defaults to a new id; an id already used raises `Conflict`.
        Bumps the hash-list version.
        """

    async def import_references(
        self, records: Sequence[ReferenceImport], *, added_by: str
    ) -> list[Reference]:
        """Add every record as an `active` reference in one transaction: all or none.

        An id already used (or given twice) raises `Conflict` naming it, and nothing is stored.
        Bumps the hash-list version once per reference.
        """

    async def get_reference(self, reference_id: str) -> Reference:
        """The reference, whatever its status. `NotFound`."""

    async def list_references(
        self, *, statuses: Collection[ReferenceStatus] | None = None
    ) -> list[Reference]:
        """References in the order they were added; `statuses` filters (default: all)."""

    async def set_reference_status(self, reference_id: str, status: ReferenceStatus) -> Reference:
        """Disable, re-enable or (soft) delete. Bumps the hash-list version.

        Only `active`, `disabled` and `deleted` may be set; a deleted reference stays deleted
        and a pending one cannot be activated before it has hashes (`Conflict`). `NotFound`.
        """

    async def get_reference_hashes(self, reference_id: str) -> str | None:
        """The reference's hash record (one JSONL line), None while pending. `NotFound`."""

    async def set_reference_hashes(
        self,
        reference_id: str,
        hash_record: str,
        *,
        frame_count: int,
        duration_seconds: float,
    ) -> Reference:
        """Store the hashes of a reference; a pending or failed one becomes `active`.

        Bumps the hash-list version. `NotFound`.
        """

    async def hashlist_version(self) -> int:
        """A number that grows with every change to the hash list (0 when never changed)."""

    async def references_changed_since(self, version: int) -> ReferenceChanges:
        """Every reference changed after `version`, in its latest state with its hash record.

        `references_changed_since(0)` is the whole list. Versions commit in increasing order,
        so polling with the returned `version` never misses a change.
        """
