"""The contract of `JobQueue`, the job queue: claims, leases, heartbeats, retries with the policy's
backoff, dead jobs, queue statistics, and fair claims (per-key limits, the key served least
recently first, lanes for long media).

Every test runs on memory, SQLite and PostgreSQL (the `store` fixture)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from tests.triage.store.backends import LEASE, FakeClock, with_job_policy
from triage.errors import Conflict, InvalidInput, LeaseLost, NotFound
from triage.models import (
    OPEN_STATES,
    JobKind,
    JobLane,
    JobState,
)
from triage.store import Store
from triage.store.protocols import JobQueue


async def test_claim_takes_due_jobs_in_order_and_none_when_empty(
    store: JobQueue, clock: FakeClock
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


async def test_claim_filters_by_kind(store: JobQueue) -> None:
    await store.enqueue_job(JobKind.HASH_REFERENCE, "r1")
    assert await store.claim_job("w1", kinds={JobKind.PROCESS_MEDIA}) is None
    claimed = await store.claim_job("w1", kinds={JobKind.HASH_REFERENCE})
    assert claimed is not None and claimed.target_id == "r1"


async def test_concurrent_claims_never_share_a_job(store: JobQueue) -> None:
    for n in range(3):
        await store.enqueue_job(JobKind.PROCESS_MEDIA, f"m{n}")
    claims = await asyncio.gather(*(store.claim_job(f"w{n}") for n in range(6)))
    taken = [job.id for job in claims if job is not None]
    assert len(taken) == 3
    assert len(set(taken)) == 3


async def test_expired_lease_is_claimed_again_and_old_worker_loses_it(
    store: JobQueue, clock: FakeClock
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


async def test_heartbeat_extends_the_lease(store: JobQueue, clock: FakeClock) -> None:
    job = await store.enqueue_job(JobKind.PROCESS_MEDIA, "m1")
    await store.claim_job("w1")
    clock.advance(LEASE - 1)
    beaten = await store.heartbeat(job.id, "w1")
    assert beaten.heartbeat_at == clock.now
    assert beaten.lease_expires_at == clock.now + timedelta(seconds=LEASE)
    clock.advance(LEASE - 1)
    assert await store.claim_job("w2") is None


async def test_job_state_moves_only_between_running_states(store: JobQueue) -> None:
    job = await store.enqueue_job(JobKind.PROCESS_MEDIA, "m1")
    await store.claim_job("w1")
    assert (await store.set_job_state(job.id, "w1", JobState.HASHING)).state is JobState.HASHING
    with pytest.raises(InvalidInput):
        await store.set_job_state(job.id, "w1", JobState.DONE)
    with pytest.raises(LeaseLost):
        await store.set_job_state(job.id, "w2", JobState.MATCHING)


@with_job_policy("3_attempts", max_attempts=3, backoff_base_seconds=2, backoff_max_seconds=5)
async def test_retryable_failure_backs_off_exponentially_then_dies_keeping_error(
    store: JobQueue, clock: FakeClock
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


@with_job_policy("10_attempts", max_attempts=10, backoff_base_seconds=2, backoff_max_seconds=10)
async def test_backoff_is_capped(store: JobQueue, clock: FakeClock) -> None:
    job = await store.enqueue_job(JobKind.PROCESS_MEDIA, "m1")
    for _ in range(5):
        assert await store.claim_job("w1") is not None
        failed = await store.fail_job(job.id, "w1", "x", retryable=True)
        clock.advance((failed.run_after - clock.now).total_seconds())
    assert (failed.run_after - failed.updated_at).total_seconds() == 10.0


async def test_permanent_failure_is_failed_at_once(store: JobQueue) -> None:
    job = await store.enqueue_job(JobKind.PROCESS_MEDIA, "m1")
    await store.claim_job("w1")
    failed = await store.fail_job(job.id, "w1", "not a video: truncated file", retryable=False)
    assert (failed.state, failed.last_error) == (JobState.FAILED, "not a video: truncated file")


@with_job_policy("1_attempt", max_attempts=1)
async def test_lease_expiring_on_last_attempt_makes_job_dead(
    store: JobQueue, clock: FakeClock
) -> None:
    job = await store.enqueue_job(JobKind.PROCESS_MEDIA, "m1")
    await store.claim_job("w1")
    clock.advance(LEASE + 1)
    assert await store.claim_job("w2") is None
    dead = await store.get_job(job.id)
    assert dead.state is JobState.DEAD
    assert dead.last_error is not None and "lease expired" in dead.last_error


@with_job_policy("1_attempt", max_attempts=1)
async def test_retry_requeues_dead_job_with_attempts_reset(store: JobQueue) -> None:
    job = await store.enqueue_job(JobKind.PROCESS_MEDIA, "m1")
    await store.claim_job("w1")
    await store.fail_job(job.id, "w1", "boom", retryable=True)
    retried = await store.retry_job(job.id)
    assert (retried.state, retried.attempts, retried.last_error) == (JobState.QUEUED, 0, "boom")
    claimed = await store.claim_job("w1")
    assert claimed is not None and claimed.id == job.id


async def test_retry_of_a_live_job_conflicts(store: JobQueue) -> None:
    job = await store.enqueue_job(JobKind.PROCESS_MEDIA, "m1")
    with pytest.raises(Conflict):
        await store.retry_job(job.id)
    with pytest.raises(NotFound):
        await store.retry_job("job_missing")


async def test_release_returns_the_job_and_its_attempt(store: JobQueue) -> None:
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
    store: JobQueue, clock: FakeClock
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


@with_job_policy("60s_backoff", backoff_base_seconds=60.0)
async def test_queue_stats_leave_out_finished_jobs_and_jobs_in_backoff(
    store: JobQueue, clock: FakeClock
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


async def _submit(store: Store, key_id: str, count: int, prefix: str = "") -> list[str]:
    media_ids = []
    for n in range(count):
        outcome = await store.create_submission(
            url=f"https://{key_id}.example/{prefix}{n}", key_id=key_id
        )
        media_ids.append(outcome.submission.media_id)
    return media_ids


async def test_a_media_job_carries_the_key_of_its_submission(store: Store) -> None:
    (media_id,) = await _submit(store, "key_a", 1)
    job = await store.claim_job("w")
    assert job is not None and job.target_id == media_id
    assert job.key_id == "key_a" and job.lane is JobLane.SHORT and job.claimed_at is not None


async def test_one_keys_flood_delays_anothers_submission_by_at_most_one_job(
    store: Store, clock: FakeClock
) -> None:
    flood = await _submit(store, "key_a", 50)
    clock.advance(1)
    (single,) = await _submit(store, "key_b", 1)
    order = []
    for _ in range(3):
        job = await store.claim_job("w")
        assert job is not None
        order.append(job.target_id)
        await store.complete_job(job.id, "w")
        clock.advance(1)
    # Jobs of one key submitted in the same instant come in no promised order.
    assert order[1] == single and {order[0], order[2]} <= set(flood)


async def test_keys_take_turns_while_each_has_work(store: Store, clock: FakeClock) -> None:
    await _submit(store, "key_a", 3)
    clock.advance(1)
    await _submit(store, "key_b", 3)
    keys = []
    for _ in range(6):
        job = await store.claim_job("w")
        assert job is not None
        keys.append(job.key_id)
        clock.advance(1)
    assert keys == ["key_a", "key_b"] * 3


async def test_a_key_at_its_limit_gets_no_more_until_one_ends(
    store: Store, clock: FakeClock
) -> None:
    await _submit(store, "key_a", 5)
    claims = [await store.claim_job("w", max_running_per_key=2) for _ in range(3)]
    first, second, third = claims
    assert first is not None and second is not None and third is None
    (other,) = await _submit(store, "key_b", 1)
    fourth = await store.claim_job("w", max_running_per_key=2)
    assert fourth is not None and fourth.target_id == other
    await store.complete_job(first.id, "w")
    fifth = await store.claim_job("w", max_running_per_key=2)
    assert fifth is not None and fifth.key_id == "key_a"


async def test_a_lapsed_lease_does_not_count_against_its_key(
    store: Store, clock: FakeClock
) -> None:
    await _submit(store, "key_a", 2)
    held = await store.claim_job("w1", max_running_per_key=1)
    assert held is not None
    assert await store.claim_job("w2", max_running_per_key=1) is None
    clock.advance(LEASE + 1)
    taken = await store.claim_job("w2", max_running_per_key=1)
    assert taken is not None and taken.key_id == "key_a"


async def test_internal_jobs_take_turns_with_submissions(store: Store, clock: FakeClock) -> None:
    for n in range(10):
        await store.enqueue_job(JobKind.RETRO_MATCH, f"ref_{n}")
    clock.advance(1)
    (submitted,) = await _submit(store, "key_a", 1)
    first = await store.claim_job("w")
    second = await store.claim_job("w")
    assert first is not None and first.kind is JobKind.RETRO_MATCH and first.key_id is None
    assert second is not None and second.target_id == submitted


async def test_a_long_job_is_taken_only_from_its_lane(store: Store, clock: FakeClock) -> None:
    long_upload = await store.create_upload_submission(
        upload_path="/uploads/two-hours.mp4",
        sha256="a" * 64,
        upload_filename="two-hours.mp4",
        key_id="key_a",
        lane=JobLane.LONG,
    )
    clock.advance(1)
    (short,) = await _submit(store, "key_a", 1)
    from_short_lane = await store.claim_job("w", lanes=[JobLane.SHORT])
    assert from_short_lane is not None and from_short_lane.target_id == short
    assert await store.claim_job("w", lanes=[JobLane.SHORT]) is None
    from_long_lane = await store.claim_job("w", lanes=[JobLane.LONG, JobLane.SHORT])
    assert from_long_lane is not None
    assert from_long_lane.target_id == long_upload.submission.media_id
    assert from_long_lane.lane is JobLane.LONG


async def test_the_long_lane_prefers_long_jobs_but_takes_short_ones(
    store: Store, clock: FakeClock
) -> None:
    (short,) = await _submit(store, "key_a", 1)
    clock.advance(1)
    long_job = await store.enqueue_job(JobKind.PROCESS_MEDIA, "med_x", lane=JobLane.LONG)
    lanes = [JobLane.LONG, JobLane.SHORT]
    first = await store.claim_job("w", lanes=lanes)
    second = await store.claim_job("w", lanes=lanes)
    assert first is not None and first.id == long_job.id
    assert second is not None and second.target_id == short


async def test_a_job_found_long_moves_to_the_long_lane_with_its_attempt_back(
    store: Store,
) -> None:
    await _submit(store, "key_a", 1)
    job = await store.claim_job("w", lanes=[JobLane.SHORT])
    assert job is not None and job.attempts == 1
    moved = await store.move_job_to_lane(job.id, "w", JobLane.LONG)
    assert moved.state is JobState.QUEUED and moved.lane is JobLane.LONG
    assert moved.attempts == 0 and moved.lease_owner is None
    assert await store.claim_job("w", lanes=[JobLane.SHORT]) is None
    again = await store.claim_job("w", lanes=[JobLane.LONG])
    assert again is not None and again.id == job.id
