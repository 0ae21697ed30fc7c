"""The contract of `HashList`, the hash list: references added, imported, hashed, disabled and
deleted, and the version that follows every change.

Every test runs on memory, SQLite and PostgreSQL (the `store` fixture)."""

from __future__ import annotations

import pytest

from tests.triage.store.backends import FakeClock
from tests.triage.store.scenarios import (
    RECORD,
)
from triage.errors import Conflict, InvalidInput, NotFound
from triage.models import (
    JobKind,
    JobState,
    ReferenceImport,
    ReferenceStatus,
)
from triage.store import Store
from triage.store.protocols import HashList


async def test_reference_with_hashes_is_active_and_bumps_version(store: HashList) -> None:
    assert await store.hashlist_version() == 0
    reference = await store.add_reference(
        label="clip A",
        source="list.jsonl",
        added_by="key_1",
        hash_record=RECORD,
        frame_count=300,
        duration_seconds=10.0,
        reference_id="ref_a",
    )
    assert reference.id == "ref_a"
    assert reference.status is ReferenceStatus.ACTIVE
    assert await store.hashlist_version() == reference.version > 0
    assert await store.get_reference_hashes("ref_a") == RECORD
    assert await store.get_reference("ref_a") == reference


async def test_reference_id_used_twice_conflicts(store: HashList) -> None:
    await store.add_reference(
        label="a", source="s", added_by="k", hash_record=RECORD, reference_id="ref_a"
    )
    with pytest.raises(Conflict):
        await store.add_reference(
            label="b", source="s", added_by="k", hash_record=RECORD, reference_id="ref_a"
        )


async def test_reference_needs_hashes_or_an_upload(store: HashList) -> None:
    with pytest.raises(InvalidInput):
        await store.add_reference(label="a", source="s", added_by="k")


async def test_uploaded_reference_is_pending_until_its_job_stores_hashes(store: Store) -> None:
    reference = await store.add_reference(
        label="clip", source="clip.mp4", added_by="k", upload_path="/uploads/clip.mp4"
    )
    assert reference.status is ReferenceStatus.PENDING
    assert await store.get_reference_hashes(reference.id) is None
    job = await store.claim_job("w1")
    assert job is not None
    assert (job.kind, job.target_id, job.state) == (
        JobKind.HASH_REFERENCE,
        reference.id,
        JobState.HASHING,
    )
    hashed = await store.set_reference_hashes(
        reference.id, RECORD, frame_count=90, duration_seconds=3.0
    )
    assert hashed.status is ReferenceStatus.ACTIVE
    assert (hashed.frame_count, hashed.duration_seconds) == (90, 3.0)
    assert hashed.version > reference.version


async def test_a_reference_without_derived_views_is_marked_full_frames_only(
    store: HashList,
) -> None:
    every_view = '{"format": "triage-hashes/1", "id": "r", "derived_frames": {}}'
    imported = await store.add_reference(label="list", source="a.txt", added_by="k",
                                         hash_record=RECORD)  # fmt: skip
    assert imported.full_frames_only
    uploaded = await store.add_reference(
        label="clip", source="clip.mp4", added_by="k", upload_path="/uploads/clip.mp4"
    )
    assert not uploaded.full_frames_only  # nothing stored yet
    hashed = await store.set_reference_hashes(
        uploaded.id, every_view, frame_count=90, duration_seconds=3.0
    )
    assert not hashed.full_frames_only
    again = await store.set_reference_hashes(uploaded.id, RECORD, frame_count=90,
                                             duration_seconds=3.0)  # fmt: skip
    assert again.full_frames_only
    listed = {r.id: r.full_frames_only for r in await store.list_references()}
    assert listed == {imported.id: True, uploaded.id: True}


async def test_reference_fails_with_its_hashing_job_and_is_pending_on_retry(store: Store) -> None:
    reference = await store.add_reference(
        label="clip", source="clip.mp4", added_by="k", upload_path="/uploads/clip.mp4"
    )
    job = await store.claim_job("w1")
    assert job is not None
    await store.fail_job(job.id, "w1", "not a video", retryable=False)
    assert (await store.get_reference(reference.id)).status is ReferenceStatus.FAILED
    await store.retry_job(job.id)
    assert (await store.get_reference(reference.id)).status is ReferenceStatus.PENDING


async def test_disable_and_delete_are_soft_and_versioned(store: HashList, clock: FakeClock) -> None:
    reference = await store.add_reference(
        label="a", source="s", added_by="k", hash_record=RECORD, reference_id="ref_a"
    )
    clock.advance(1)
    disabled = await store.set_reference_status("ref_a", ReferenceStatus.DISABLED)
    deleted = await store.set_reference_status("ref_a", ReferenceStatus.DELETED)
    assert reference.version < disabled.version < deleted.version
    assert deleted.updated_at > reference.added_at
    assert (await store.get_reference("ref_a")).status is ReferenceStatus.DELETED
    assert await store.get_reference_hashes("ref_a") == RECORD
    with pytest.raises(Conflict):
        await store.set_reference_status("ref_a", ReferenceStatus.ACTIVE)


async def test_pending_reference_cannot_be_activated(store: HashList) -> None:
    reference = await store.add_reference(
        label="a", source="s", added_by="k", upload_path="/uploads/a.mp4"
    )
    with pytest.raises(Conflict):
        await store.set_reference_status(reference.id, ReferenceStatus.ACTIVE)
    with pytest.raises(InvalidInput):
        await store.set_reference_status(reference.id, ReferenceStatus.FAILED)


async def test_list_references_filters_by_status(store: HashList, clock: FakeClock) -> None:
    for name in ("a", "b", "c"):
        await store.add_reference(
            label=name, source="s", added_by="k", hash_record=RECORD, reference_id=name
        )
        clock.advance(1)
    await store.set_reference_status("b", ReferenceStatus.DISABLED)
    assert [r.id for r in await store.list_references()] == ["a", "b", "c"]
    active = await store.list_references(statuses={ReferenceStatus.ACTIVE})
    assert [r.id for r in active] == ["a", "c"]


async def test_changes_since_a_version_list_only_later_changes(store: HashList) -> None:
    await store.add_reference(
        label="a", source="s", added_by="k", hash_record="A", reference_id="a"
    )
    await store.add_reference(
        label="b", source="s", added_by="k", hash_record="B", reference_id="b"
    )
    everything = await store.references_changed_since(0)
    assert [c.reference.id for c in everything.changed] == ["a", "b"]
    assert [c.hash_record for c in everything.changed] == ["A", "B"]

    await store.set_reference_status("a", ReferenceStatus.DISABLED)
    later = await store.references_changed_since(everything.version)
    assert [(c.reference.id, c.reference.status) for c in later.changed] == [
        ("a", ReferenceStatus.DISABLED)
    ]
    assert later.version > everything.version
    assert (await store.references_changed_since(later.version)).changed == ()


async def test_unknown_reference_is_not_found(store: HashList) -> None:
    with pytest.raises(NotFound):
        await store.get_reference("nope")
    with pytest.raises(NotFound):
        await store.set_reference_status("nope", ReferenceStatus.DISABLED)


def _record(reference_id: str) -> ReferenceImport:
    return ReferenceImport(
        reference_id=reference_id,
        label=f"label {reference_id}",
        source="list.jsonl",
        hash_record=RECORD,
        frame_count=3,
        duration_seconds=1.5,
    )


async def test_import_adds_every_record_as_an_active_reference(store: HashList) -> None:
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
async def test_import_with_a_clashing_id_stores_nothing(store: HashList, clash: str) -> None:
    await store.import_references([_record("r0")], added_by="key_a")
    version = await store.hashlist_version()
    records = [_record("r1"), _record("r0" if clash == "existing" else "r1"), _record("r3")]
    with pytest.raises(Conflict, match="r0" if clash == "existing" else "r1"):
        await store.import_references(records, added_by="key_a")
    assert [r.id for r in await store.list_references()] == ["r0"]
    assert await store.hashlist_version() == version
