"""Hash records into the store's hash list: what the API's import (`POST /v1/references` with
a vPDQ or JSONL file) and the bulk load (`triage hashlist load`) both check and store."""

from __future__ import annotations

from collections.abc import Iterable

from hashes.formats.jsonl import HashListEntry, dumps_record
from triage.errors import InvalidInput
from triage.models import ReferenceImport


def import_record(entry: HashListEntry, fmt: str) -> ReferenceImport:
    """The store's record of an imported entry."""
    full = entry.hashes.full_frame()
    return ReferenceImport(
        reference_id=entry.reference_id,
        label=entry.label or entry.reference_id,
        source=entry.source or f"{fmt} import",
        # Every view the record carries (a JSONL list made by `triage hash` has the derived
        # views): what the matcher uses, kept.
        hash_record=dumps_record(entry, derived=True),
        frame_count=full.frame_count or len(full),
        duration_seconds=full.duration_seconds,
    )


def check_design(entry: HashListEntry, design: str) -> None:
    """Refuse a record whose derived views were made with another design than this service's:
    mixed into the index it would match by other rules than the rest of the list."""
    if not entry.hashes.made_with(design):
        raise InvalidInput(
            f"reference {entry.reference_id!r}: its derived views were made with "
            f"{entry.hashes.view_design!r}, this service makes {design!r}; hash the video "
            "with this service's settings (triage hash --config), or import its full frames "
            "alone (a vPDQ file, or the list exported as JSONL)"
        )


def check_distinct_ids(entries: Iterable[HashListEntry]) -> None:
    ids = [e.reference_id for e in entries]
    if len(set(ids)) != len(ids):
        raise InvalidInput("the file names a reference id twice")
