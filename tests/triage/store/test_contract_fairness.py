"""The store contract for fair claims: per-key limits, the key served least recently first,
lanes for long media. Every test runs on memory, SQLite and PostgreSQL."""

from __future__ import annotations

from tests.triage.store.backends import LEASE, FakeClock
from triage.models import JobKind, JobLane, JobState
from triage.store import Store


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
