"""References with hash records, added to a store the way an import adds them."""

from __future__ import annotations

from hashes.formats.jsonl import HashListEntry, dumps_record
from hashes.types import VideoHashes
from triage.models import Reference
from triage.store import Store


def hash_record(reference_id: str, hashes: VideoHashes) -> str:
    """The stored JSONL record of `hashes`, derived views included."""
    return dumps_record(HashListEntry(reference_id, hashes), derived=True)


async def add_hashed_reference(store: Store, reference_id: str, hashes: VideoHashes) -> Reference:
    """An active reference labelled `label of <id>`, holding `hashes`."""
    return await store.add_reference(
        label=f"label of {reference_id}",
        source="test",
        added_by="test",
        hash_record=hash_record(reference_id, hashes),
        frame_count=hashes.frame_count,
        duration_seconds=hashes.duration_seconds,
        reference_id=reference_id,
    )
