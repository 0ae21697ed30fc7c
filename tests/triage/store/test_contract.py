"""The store contract: every test runs on memory, SQLite and PostgreSQL (see `store` fixture)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import pytest

from tests.triage.store.backends import CONTRACT_POLICY, LEASE, FakeClock
from triage.errors import Conflict, InvalidInput, LeaseLost, NotFound
from triage.models import (
    OPEN_STATES,
    ApiKey,
    FetchEvidence,
    JobKind,
    JobState,
    MatchEvidence,
    ReferenceStatus,
    Scope,
    SegmentEvidence,
    SubmissionStatus,
    Verdict,
    new_api_key_token,
)
from triage.store import Store

RECORD = '{"format": "triage-hashes/1", "id": "r"}'


def _evidence(
    clock: FakeClock, sha256: str, url: str = "https://example.com/v.mp4"
) -> FetchEvidence:
    return FetchEvidence(
        final_url=url,
        sha256=sha256,
        size_bytes=1234,
        content_type="video/mp4",
        fetched_at=clock(),
        resolver={"extractor": "generic", "title": "a clip"},
    )


MATCH = MatchEvidence(
    reference_id="ref_a",
    label="attack clip A",
    score=2.5,
    query_coverage=0.8,
    reference_coverage=0.4,
    matched_seconds=12.0,
    segments=(
        SegmentEvidence(
            query_start=1.0,
            query_end=13.0,
            reference_start=5.0,
            reference_end=17.0,
            score=2.5,
            matched_frames=40,
            mean_distance=12.5,
        ),
    ),
    speed=1.1,
    views=("full", "flip"),
)


# --- keys -------------------------------------------------------------------------------------


async def test_key_is_found_by_digest_of_its_token(store: Store) -> None:
    token = new_api_key_token()
    created = await store.create_api_key(
        "moderation", {Scope.SUBMIT, Scope.READ}, ApiKey.digest(token)
    )
    found = await store.find_active_api_key(ApiKey.digest(token))
    assert found == created
    assert found is not None and found.scopes == {Scope.SUBMIT, Scope.READ}
    assert await store.find_active_api_key(ApiKey.digest(token + "x")) is None


async def test_revoked_key_is_no_longer_found_but_still_listed(
    store: Store, clock: FakeClock
) -> None:
    digest = ApiKey.digest(new_api_key_token())
    key = await store.create_api_key("old", {Scope.ADMIN}, digest)
    clock.advance(5)
    revoked = await store.revoke_api_key(key.id)
    clock.advance(5)
    again = await store.revoke_api_key(key.id)
    assert revoked.revoked_at == clock.now - timedelta(seconds=5)
    assert again.revoked_at == revoked.revoked_at
    assert await store.find_active_api_key(digest) is None
    assert [k.id for k in await store.list_api_keys()] == [key.id]


async def test_platform_key_keeps_its_hosts(store: Store) -> None:
    digest = ApiKey.digest(new_api_key_token())
    await store.create_api_key("platform", {Scope.READ}, digest, hosts=["example.com", "b.org"])
    found = await store.find_active_api_key(digest)
    assert found is not None and found.hosts == ("example.com", "b.org")


async def test_same_digest_twice_conflicts(store: Store) -> None:
    digest = ApiKey.digest(new_api_key_token())
    await store.create_api_key("a", {Scope.READ}, digest)
    with pytest.raises(Conflict):
        await store.create_api_key("b", {Scope.READ}, digest)


async def test_key_without_scopes_is_refused(store: Store) -> None:
    with pytest.raises(InvalidInput):
        await store.create_api_key("none", set(), ApiKey.digest("t"))


async def test_revoking_unknown_key_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        await store.revoke_api_key("key_missing")


# --- references -------------------------------------------------------------------------------


async def test_reference_with_hashes_is_active_and_bumps_version(store: Store) -> None:
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


async def test_reference_id_used_twice_conflicts(store: Store) -> None:
    await store.add_reference(
        label="a", source="s", added_by="k", hash_record=RECORD, reference_id="ref_a"
    )
    with pytest.raises(Conflict):
        await store.add_reference(
            label="b", source="s", added_by="k", hash_record=RECORD, reference_id="ref_a"
        )


async def test_reference_needs_hashes_or_an_upload(store: Store) -> None:
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


async def test_a_reference_without_derived_views_is_marked_full_frames_only(store: Store) -> None:
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


async def test_disable_and_delete_are_soft_and_versioned(store: Store, clock: FakeClock) -> None:
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


async def test_pending_reference_cannot_be_activated(store: Store) -> None:
    reference = await store.add_reference(
        label="a", source="s", added_by="k", upload_path="/uploads/a.mp4"
    )
    with pytest.raises(Conflict):
        await store.set_reference_status(reference.id, ReferenceStatus.ACTIVE)
    with pytest.raises(InvalidInput):
        await store.set_reference_status(reference.id, ReferenceStatus.FAILED)


async def test_list_references_filters_by_status(store: Store, clock: FakeClock) -> None:
    for name in ("a", "b", "c"):
        await store.add_reference(
            label=name, source="s", added_by="k", hash_record=RECORD, reference_id=name
        )
        clock.advance(1)
    await store.set_reference_status("b", ReferenceStatus.DISABLED)
    assert [r.id for r in await store.list_references()] == ["a", "b", "c"]
    active = await store.list_references(statuses={ReferenceStatus.ACTIVE})
    assert [r.id for r in active] == ["a", "c"]


async def test_changes_since_a_version_list_only_later_changes(store: Store) -> None:
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


async def test_unknown_reference_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        await store.get_reference("nope")
    with pytest.raises(NotFound):
        await store.set_reference_status("nope", ReferenceStatus.DISABLED)


# --- submissions ------------------------------------------------------------------------------


async def test_submission_creates_media_and_queued_job(store: Store) -> None:
    outcome = await store.create_submission(
        url="https://example.com/v.mp4", key_id="key_1", note="seen in a group", external_id="T-1"
    )
    assert not outcome.replayed and not outcome.deduplicated
    detail = await store.get_submission(outcome.submission.id)
    assert detail.submission == outcome.submission
    assert detail.media.url == "https://example.com/v.mp4"
    assert detail.job is not None
    assert (detail.job.kind, detail.job.state) == (JobKind.PROCESS_MEDIA, JobState.QUEUED)
    assert detail.job.target_id == detail.media.id
    assert detail.status is SubmissionStatus.QUEUED
    assert detail.result is None


async def test_same_url_twice_shares_one_media_and_job(store: Store) -> None:
    first = await store.create_submission(url="https://example.com/v.mp4", key_id="key_1")
    second = await store.create_submission(url="https://example.com/v.mp4", key_id="key_2")
    assert second.deduplicated
    assert first.submission.id != second.submission.id
    assert first.submission.media_id == second.submission.media_id
    assert len(await store.list_jobs()) == 1


async def test_idempotency_key_returns_the_first_submission(store: Store) -> None:
    first = await store.create_submission(
        url="https://example.com/a.mp4", key_id="key_1", idempotency_key="abc"
    )
    replay = await store.create_submission(
        url="https://example.com/other.mp4", key_id="key_1", idempotency_key="abc"
    )
    other_key = await store.create_submission(
        url="https://example.com/a.mp4", key_id="key_2", idempotency_key="abc"
    )
    assert replay.replayed and replay.submission == first.submission
    assert not other_key.replayed and other_key.submission.id != first.submission.id
    assert len(await store.list_jobs()) == 1


async def test_concurrent_submissions_of_one_url_share_one_media(store: Store) -> None:
    outcomes = await asyncio.gather(
        *(store.create_submission(url="https://example.com/v.mp4", key_id="k") for _ in range(4))
    )
    assert len({o.submission.media_id for o in outcomes}) == 1
    assert len({o.submission.id for o in outcomes}) == 4
    assert len(await store.list_jobs()) == 1


async def test_resubmitting_a_failed_url_queues_it_again(store: Store) -> None:
    first = await store.create_submission(url="https://example.com/v.mp4", key_id="k")
    job = await store.claim_job("w1")
    assert job is not None
    await store.fail_job(job.id, "w1", "connection refused", retryable=False)
    assert (await store.get_submission(first.submission.id)).status is SubmissionStatus.FAILED
    await store.create_submission(url="https://example.com/v.mp4", key_id="k")
    requeued = await store.get_job(job.id)
    assert (requeued.state, requeued.attempts) == (JobState.QUEUED, 0)


async def test_upload_with_known_content_links_to_existing_media(store: Store) -> None:
    first = await store.create_upload_submission(
        upload_path="/uploads/1.mp4", sha256="ab" * 32, upload_filename="1.mp4", key_id="k"
    )
    second = await store.create_upload_submission(
        upload_path="/uploads/2.mp4", sha256="ab" * 32, upload_filename="copy.mp4", key_id="k"
    )
    assert second.deduplicated and second.submission.media_id == first.submission.media_id
    media = await store.get_media(first.submission.media_id)
    assert (media.url, media.upload_path, media.sha256) == (None, "/uploads/1.mp4", "ab" * 32)
    assert second.submission.upload_filename == "copy.mp4"
    assert len(await store.list_jobs()) == 1


async def test_same_bytes_through_another_url_share_the_first_result(
    store: Store, clock: FakeClock
) -> None:
    sha = "cd" * 32
    first = await store.create_submission(url="https://a.example/v.mp4", key_id="k")
    job = await store.claim_job("w1")
    assert job is not None
    assert (
        await store.link_media_by_sha256(first.submission.media_id, _evidence(clock, sha)) is None
    )
    await store.record_result(
        first.submission.media_id,
        verdict=Verdict.CONFIRMED,
        matches=[MATCH],
        query_hashes="Q",
        job_id=job.id,
        worker_id="w1",
    )

    second = await store.create_submission(url="https://b.example/copy", key_id="k")
    job2 = await store.claim_job("w2")
    assert job2 is not None and job2.target_id == second.submission.media_id
    earlier = await store.link_media_by_sha256(
        second.submission.media_id, _evidence(clock, sha, "https://cdn.example/copy.mp4")
    )
    assert earlier is not None and earlier.id == first.submission.media_id
    await store.complete_job(job2.id, "w2")

    detail = await store.get_submission(second.submission.id)
    assert detail.media.same_as == first.submission.media_id
    assert detail.media.evidence is not None
    assert detail.media.evidence.final_url == "https://cdn.example/copy.mp4"
    assert detail.status is SubmissionStatus.DONE
    assert detail.result is not None and detail.result.verdict is Verdict.CONFIRMED
    assert await store.get_query_hashes(second.submission.media_id) == "Q"


async def test_result_round_trips_with_evidence_and_completes_job(
    store: Store, clock: FakeClock
) -> None:
    outcome = await store.create_submission(url="https://example.com/v.mp4", key_id="k")
    job = await store.claim_job("w1")
    assert job is not None
    media_id = outcome.submission.media_id
    await store.link_media_by_sha256(media_id, _evidence(clock, "ef" * 32))
    await store.set_job_state(job.id, "w1", JobState.MATCHING)
    result = await store.record_result(
        media_id,
        verdict=Verdict.CONFIRMED,
        matches=[MATCH],
        query_hashes="Q",
        job_id=job.id,
        worker_id="w1",
    )
    detail = await store.get_submission(outcome.submission.id)
    assert detail.result == result
    assert detail.result.best == MATCH
    assert detail.job is not None and detail.job.state is JobState.DONE
    assert detail.media.evidence == _evidence(clock, "ef" * 32)
    assert await store.get_result(media_id) == result


async def test_result_is_refused_from_a_worker_without_the_lease(store: Store) -> None:
    outcome = await store.create_submission(url="https://example.com/v.mp4", key_id="k")
    job = await store.claim_job("w1")
    assert job is not None
    with pytest.raises(LeaseLost):
        await store.record_result(
            outcome.submission.media_id,
            verdict=Verdict.NONE,
            matches=[],
            query_hashes="Q",
            job_id=job.id,
            worker_id="w2",
        )
    assert await store.get_result(outcome.submission.media_id) is None


async def test_unknown_submission_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        await store.get_submission("sub_missing")


# --- jobs -------------------------------------------------------------------------------------


async def test_claim_takes_due_jobs_in_order_and_none_when_empty(
    store: Store, clock: FakeClock
) -> None:
    first = await store.enqueue_job(JobKind.PROCESS_MEDIA, "m1")
    clock.advance(1)
    await store.enqueue_job(JobKind.PROCESS_MEDIA, "m2", run_after=clock.now + timedelta(hours=1))
    claimed = await store.claim_job("w1")
    assert claimed is not None and claimed.id == first.id
    assert claimed.state is JobState.FETCHING and claimed.attempts == 1
    assert claimed.lease_owner == "w1"
    assert claimed.lease_expires_at == clock.now + timedelta(seconds=LEASE)
    assert await store.claim_job("w2") is None


async def test_claim_filters_by_kind(store: Store) -> None:
    await store.enqueue_job(JobKind.HASH_REFERENCE, "r1")
    assert await store.claim_job("w1", kinds={JobKind.PROCESS_MEDIA}) is None
    claimed = await store.claim_job("w1", kinds={JobKind.HASH_REFERENCE})
    assert claimed is not None and claimed.target_id == "r1"


async def test_concurrent_claims_never_share_a_job(store: Store) -> None:
    for n in range(3):
        await store.enqueue_job(JobKind.PROCESS_MEDIA, f"m{n}")
    claims = await asyncio.gather(*(store.claim_job(f"w{n}") for n in range(6)))
    taken = [job.id for job in claims if job is not None]
    assert len(taken) == 3
    assert len(set(taken)) == 3


async def test_expired_lease_is_claimed_again_and_old_worker_loses_it(
    store: Store, clock: FakeClock
) -> None:
    job = await store.enqueue_job(JobKind.PROCESS_MEDIA, "m1")
    await store.claim_job("w1")
    clock.advance(LEASE - 1)
    assert await store.claim_job("w2") is None
    clock.advance(2)
    again = await store.claim_job("w2")
    assert again is not None and again.id == job.id
    assert (again.lease_owner, again.attempts) == ("w2", 2)
    with pytest.raises(LeaseLost):
        await store.heartbeat(job.id, "w1")
    with pytest.raises(LeaseLost):
        await store.complete_job(job.id, "w1")


async def test_heartbeat_extends_the_lease(store: Store, clock: FakeClock) -> None:
    job = await store.enqueue_job(JobKind.PROCESS_MEDIA, "m1")
    await store.claim_job("w1")
    clock.advance(LEASE - 1)
    beaten = await store.heartbeat(job.id, "w1")
    assert beaten.heartbeat_at == clock.now
    assert beaten.lease_expires_at == clock.now + timedelta(seconds=LEASE)
    clock.advance(LEASE - 1)
    assert await store.claim_job("w2") is None


async def test_job_state_moves_only_between_running_states(store: Store) -> None:
    job = await store.enqueue_job(JobKind.PROCESS_MEDIA, "m1")
    await store.claim_job("w1")
    assert (await store.set_job_state(job.id, "w1", JobState.HASHING)).state is JobState.HASHING
    with pytest.raises(InvalidInput):
        await store.set_job_state(job.id, "w1", JobState.DONE)
    with pytest.raises(LeaseLost):
        await store.set_job_state(job.id, "w2", JobState.MATCHING)


@pytest.mark.parametrize(
    "job_policy",
    [replace(CONTRACT_POLICY, max_attempts=3, backoff_base_seconds=2, backoff_max_seconds=5)],
    ids=["3_attempts"],
)
async def test_retryable_failure_backs_off_exponentially_then_dies_keeping_error(
    store: Store, clock: FakeClock
) -> None:
    job = await store.enqueue_job(JobKind.PROCESS_MEDIA, "m1")
    assert job.max_attempts == 3
    delays = []
    for attempt in range(1, 4):
        claimed = await store.claim_job("w1")
        assert claimed is not None and claimed.attempts == attempt
        failed = await store.fail_job(job.id, "w1", f"timeout {attempt}", retryable=True)
        if failed.state is JobState.QUEUED:
            delays.append((failed.run_after - clock.now).total_seconds())
            assert await store.claim_job("w1") is None
            clock.advance(delays[-1])
    assert delays == [2.0, 4.0]
    dead = await store.get_job(job.id)
    assert (dead.state, dead.attempts, dead.last_error) == (JobState.DEAD, 3, "timeout 3")
    assert dead.lease_owner is None
    assert await store.claim_job("w1") is None


@pytest.mark.parametrize(
    "job_policy",
    [replace(CONTRACT_POLICY, max_attempts=10, backoff_base_seconds=2, backoff_max_seconds=10)],
    ids=["10_attempts"],
)
async def test_backoff_is_capped(store: Store, clock: FakeClock) -> None:
    job = await store.enqueue_job(JobKind.PROCESS_MEDIA, "m1")
    for _ in range(5):
        assert await store.claim_job("w1") is not None
        failed = await store.fail_job(job.id, "w1", "x", retryable=True)
        clock.advance((failed.run_after - clock.now).total_seconds())
    assert (failed.run_after - failed.updated_at).total_seconds() == 10.0


async def test_permanent_failure_is_failed_at_once(store: Store) -> None:
    job = await store.enqueue_job(JobKind.PROCESS_MEDIA, "m1")
    await store.claim_job("w1")
    failed = await store.fail_job(job.id, "w1", "not a video: truncated file", retryable=False)
    assert (failed.state, failed.last_error) == (JobState.FAILED, "not a video: truncated file")


@pytest.mark.parametrize(
    "job_policy", [replace(CONTRACT_POLICY, max_attempts=1)], ids=["1_attempt"]
)
async def test_lease_expiring_on_last_attempt_makes_job_dead(
    store: Store, clock: FakeClock
) -> None:
    job = await store.enqueue_job(JobKind.PROCESS_MEDIA, "m1")
    await store.claim_job("w1")
    clock.advance(LEASE + 1)
    assert await store.claim_job("w2") is None
    dead = await store.get_job(job.id)
    assert dead.state is JobState.DEAD
    assert dead.last_error is not None and "lease expired" in dead.last_error


@pytest.mark.parametrize(
    "job_policy", [replace(CONTRACT_POLICY, max_attempts=1)], ids=["1_attempt"]
)
async def test_retry_requeues_dead_job_with_attempts_reset(store: Store) -> None:
    job = await store.enqueue_job(JobKind.PROCESS_MEDIA, "m1")
    await store.claim_job("w1")
    await store.fail_job(job.id, "w1", "boom", retryable=True)
    retried = await store.retry_job(job.id)
    assert (retried.state, retried.attempts, retried.last_error) == (JobState.QUEUED, 0, "boom")
    claimed = await store.claim_job("w1")
    assert claimed is not None and claimed.id == job.id


async def test_retry_of_a_live_job_conflicts(store: Store) -> None:
    job = await store.enqueue_job(JobKind.PROCESS_MEDIA, "m1")
    with pytest.raises(Conflict):
        await store.retry_job(job.id)
    with pytest.raises(NotFound):
        await store.retry_job("job_missing")


async def test_release_returns_the_job_and_its_attempt(store: Store) -> None:
    job = await store.enqueue_job(JobKind.PROCESS_MEDIA, "m1")
    await store.claim_job("w1")
    released = await store.release_job(job.id, "w1")
    assert (released.state, released.attempts, released.lease_owner) == (
        JobState.QUEUED,
        0,
        None,
    )
    again = await store.claim_job("w2")
    assert again is not None and again.id == job.id and again.attempts == 1


async def test_queue_stats_count_open_jobs_per_kind_with_oldest_age(
    store: Store, clock: FakeClock
) -> None:
    await store.enqueue_job(JobKind.PROCESS_MEDIA, "m1")
    clock.advance(10)
    await store.enqueue_job(JobKind.PROCESS_MEDIA, "m2")
    await store.enqueue_job(JobKind.PROCESS_MEDIA, "m3")
    await store.enqueue_job(JobKind.RETRO_MATCH, "r1")
    clock.advance(5)
    await store.claim_job("w1", kinds=(JobKind.PROCESS_MEDIA,))
    stats = {(s.kind, s.state): s for s in await store.queue_stats()}
    assert set(stats) == {(kind, state) for kind in JobKind for state in OPEN_STATES}
    queued = stats[JobKind.PROCESS_MEDIA, JobState.QUEUED]
    assert (queued.count, queued.oldest_age_seconds, queued.longest_due_seconds) == (2, 5.0, 5.0)
    fetching = stats[JobKind.PROCESS_MEDIA, JobState.FETCHING]
    assert (fetching.count, fetching.oldest_age_seconds, fetching.longest_due_seconds) == (
        1,
        15.0,
        None,
    )
    retro = stats[JobKind.RETRO_MATCH, JobState.QUEUED]
    assert (retro.count, retro.longest_due_seconds) == (1, 5.0)
    empty = stats[JobKind.HASH_REFERENCE, JobState.QUEUED]
    assert (empty.count, empty.oldest_age_seconds, empty.longest_due_seconds) == (0, None, None)


@pytest.mark.parametrize(
    "job_policy", [replace(CONTRACT_POLICY, backoff_base_seconds=60.0)], ids=["60s_backoff"]
)
async def test_queue_stats_leave_out_finished_jobs_and_jobs_in_backoff(
    store: Store, clock: FakeClock
) -> None:
    done = await store.enqueue_job(JobKind.RETRO_MATCH, "r1")
    await store.claim_job("w1")
    await store.complete_job(done.id, "w1")
    retried = await store.enqueue_job(JobKind.PROCESS_MEDIA, "m1")
    await store.claim_job("w1")
    await store.fail_job(retried.id, "w1", "http_503: busy", retryable=True)
    stats = {(s.kind, s.state): s for s in await store.queue_stats()}
    assert all(s.state in OPEN_STATES for s in stats.values())
    assert stats[JobKind.RETRO_MATCH, JobState.QUEUED].count == 0
    # Queued again but not due before its backoff ends: counted, not yet waiting on a worker.
    waiting = stats[JobKind.PROCESS_MEDIA, JobState.QUEUED]
    assert (waiting.count, waiting.longest_due_seconds) == (1, None)
    clock.advance(61)
    stats = {(s.kind, s.state): s for s in await store.queue_stats()}
    assert stats[JobKind.PROCESS_MEDIA, JobState.QUEUED].longest_due_seconds == 1.0


async def test_migrate_twice_is_a_no_op(store: Store) -> None:
    await store.add_reference(label="a", source="s", added_by="k", hash_record=RECORD)
    await store.migrate()
    await store.migrate()
    assert len(await store.list_references()) == 1
    await store.ping()
