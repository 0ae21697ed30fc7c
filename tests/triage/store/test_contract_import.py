"""The store contract for importing a hash list: all records or none, on every backend."""

from __future__ import annotations

import pytest

from tests.triage.store.test_contract import RECORD
from triage.errors import Conflict
from triage.models import ReferenceImport, ReferenceStatus
from triage.store import Store


def _record(reference_id: str) -> ReferenceImport:
    return ReferenceImport(
        reference_id=reference_id,
        label=f"label {reference_id}",
        source="list.jsonl",
        hash_record=RECORD,
        frame_count=3,
        duration_seconds=1.5,
    )


async def test_import_adds_every_record_as_an_active_reference(store: Store) -> None:
    version = await store.hashlist_version()
    added = await store.import_references([_record("r1"), _record("r2")], added_by="key_a")
    assert [r.id for r in added] == ["r1", "r2"]
    for reference in added:
        stored = await store.get_reference(reference.id)
        assert stored == reference
        assert stored.status is ReferenceStatus.ACTIVE and stored.added_by == "key_a"
        assert stored.frame_count == 3 and stored.duration_seconds == 1.5
        assert await store.get_reference_hashes(reference.id) == RECORD
    assert await store.hashlist_version() == version + 2


@pytest.mark.parametrize("clash", ["existing", "twice"])
async def test_import_with_a_clashing_id_stores_nothing(store: Store, clash: str) -> None:
    await store.import_references([_record("r0")], added_by="key_a")
    version = await store.hashlist_version()
    records = [_record("r1"), _record("r0" if clash == "existing" else "r1"), _record("r3")]
    with pytest.raises(Conflict, match="r0" if clash == "existing" else "r1"):
        await store.import_references(records, added_by="key_a")
    assert [r.id for r in await store.list_references()] == ["r0"]
    assert await store.hashlist_version() == version
