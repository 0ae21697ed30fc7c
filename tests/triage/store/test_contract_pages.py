"""The store contract for the pages and the context of results: the first submission on
referrals, matches and review items; listing submissions; review claims and priority;
sign-in sessions; keyframes. Every test runs on memory, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.triage.store.backends import FakeClock
from triage.errors import Conflict, NotFound
from triage.models import (
    FetchEvidence,
    Keyframe,
    MatchEvidence,
    ReviewDecision,
    Scope,
    SegmentEvidence,
    SubmissionFilter,
    SubmissionStatus,
    SubmitOutcome,
    Verdict,
)
from triage.store import Store


def _match(score: float) -> MatchEvidence:
    return MatchEvidence(
        reference_id="ref_a",
        label="attack A",
        score=score,
        query_coverage=0.5,
        reference_coverage=0.5,
        matched_seconds=8.0,
        segments=(
            SegmentEvidence(
                query_start=0.0, query_end=8.0, reference_start=2.0, reference_end=10.0, score=3.0
            ),
        ),
    )


async def _submit(
    store: Store,
    clock: FakeClock,
    url: str,
    *,
    key_id: str = "k",
    external_id: str | None = None,
    note: str | None = None,
) -> SubmitOutcome:
    outcome = await store.create_submission(
        url=url, key_id=key_id, external_id=external_id, note=note
    )
    clock.advance(1)
    return outcome


async def _verdict(
    store: Store, clock: FakeClock, outcome: SubmitOutcome, verdict: Verdict, score: float = 2.0
) -> None:
    """Work the next job (the media of `outcome`) to `verdict`, the way a worker does."""
    job = await store.claim_job("w")
    assert job is not None and job.target_id == outcome.submission.media_id
    evidence = FetchEvidence(
        final_url=outcome.submission.url,
        sha256=outcome.submission.media_id.ljust(64, "0")[:64],
        size_bytes=10,
        content_type="video/mp4",
        fetched_at=clock(),
    )
    assert await store.link_media_by_sha256(job.target_id, evidence) is None
    matches = [_match(score)] if verdict is not Verdict.NONE else []
    await store.record_result(
        job.target_id,
        verdict=verdict,
        matches=matches,
        query_hashes=f"Q{job.target_id}",
        job_id=job.id,
        worker_id="w",
    )
    clock.advance(1)


# --- context: the report a result belongs to ------------------------------------------------


async def test_referral_and_match_carry_the_first_submission(
    store: Store, clock: FakeClock
) -> None:
    first = await _submit(
        store, clock, "https://a.example/1", external_id="case-1", note="seen in a group"
    )
    await _submit(store, clock, "https://a.example/1", key_id="other", external_id="case-9")
    await _verdict(store, clock, first, Verdict.CONFIRMED)
    [referral] = await store.list_referrals()
    assert (referral.submission_id, referral.external_id, referral.note) == (
        first.submission.id,
        "case-1",
        "seen in a group",
    )
    [record] = await store.list_matches()
    assert (record.submission_id, record.external_id, record.note) == (
        first.submission.id,
        "case-1",
        "seen in a group",
    )


async def test_review_item_carries_the_first_submission(store: Store, clock: FakeClock) -> None:
    first = await _submit(store, clock, "https://a.example/1", external_id="case-1", note="n")
    await _verdict(store, clock, first, Verdict.REVIEW, score=0.7)
    [listed] = await store.list_review_items()
    item = await store.get_review_item(listed.id)
    for seen in (listed, item):
        assert (seen.submission_id, seen.external_id, seen.submission_note) == (
            first.submission.id,
            "case-1",
            "n",
        )


# --- listing submissions --------------------------------------------------------------------


async def test_submissions_are_listed_newest_first_and_paged(
    store: Store, clock: FakeClock
) -> None:
    made = [await _submit(store, clock, f"https://a.example/{i}") for i in range(5)]
    ids = [o.submission.id for o in reversed(made)]
    first_page = await store.list_submissions(SubmissionFilter(), limit=2)
    assert [d.submission.id for d in first_page] == ids[:2]
    rest = await store.list_submissions(SubmissionFilter(), before=ids[1], limit=10)
    assert [d.submission.id for d in rest] == ids[2:]
    with pytest.raises(NotFound):
        await store.list_submissions(SubmissionFilter(), before="sub_unknown")


async def test_submissions_filter_by_key_host_and_external_id(
    store: Store, clock: FakeClock
) -> None:
    mine = await _submit(store, clock, "https://m.example.com/1", external_id="case-7")
    await _submit(store, clock, "https://other.org/2", external_id="case-7")
    theirs = await _submit(store, clock, "https://example.com/3", key_id="other")

    async def ids(where: SubmissionFilter) -> set[str]:
        return {d.submission.id for d in await store.list_submissions(where)}

    assert mine.submission.id in await ids(SubmissionFilter(key_id="k"))
    assert theirs.submission.id not in await ids(SubmissionFilter(key_id="k"))
    assert await ids(SubmissionFilter(hosts=("example.com",))) == {
        mine.submission.id,
        theirs.submission.id,
    }
    assert len(await ids(SubmissionFilter(external_id="case-7"))) == 2
    assert await ids(SubmissionFilter(key_id="k", hosts=("example.com",))) == {mine.submission.id}


async def test_submissions_filter_by_verdict_and_status(store: Store, clock: FakeClock) -> None:
    done = await _submit(store, clock, "https://a.example/1")
    waiting = await _submit(store, clock, "https://a.example/2")
    await _verdict(store, clock, done, Verdict.CONFIRMED)

    async def ids(where: SubmissionFilter) -> list[str]:
        return [d.submission.id for d in await store.list_submissions(where)]

    assert await ids(SubmissionFilter(verdicts=frozenset({Verdict.CONFIRMED}))) == [
        done.submission.id
    ]
    assert await ids(SubmissionFilter(verdicts=frozenset({Verdict.NONE}))) == []
    assert await ids(SubmissionFilter(statuses=frozenset({SubmissionStatus.DONE}))) == [
        done.submission.id
    ]
    assert await ids(SubmissionFilter(statuses=frozenset({SubmissionStatus.QUEUED}))) == [
        waiting.submission.id
    ]
    job = await store.claim_job("w")
    assert job is not None
    await store.fail_job(job.id, "w", "not_media: nope", retryable=False)
    assert await ids(SubmissionFilter(statuses=frozenset({SubmissionStatus.FAILED}))) == [
        waiting.submission.id
    ]


async def test_submissions_of_one_media_are_every_report_of_its_content(
    store: Store, clock: FakeClock
) -> None:
    first = await _submit(store, clock, "https://a.example/1")
    again = await _submit(store, clock, "https://a.example/1", key_id="other")
    await _verdict(store, clock, first, Verdict.REVIEW, score=0.7)
    # The same bytes at another URL: a copy of the first media, sharing its result.
    mirror = await _submit(store, clock, "https://mirror.example/1")
    job = await store.claim_job("w")
    assert job is not None and job.target_id == mirror.submission.media_id
    evidence = FetchEvidence(
        final_url=mirror.submission.url,
        sha256=first.submission.media_id.ljust(64, "0")[:64],
        size_bytes=10,
        content_type="video/mp4",
        fetched_at=clock(),
    )
    assert await store.link_media_by_sha256(job.target_id, evidence) is not None
    await _submit(store, clock, "https://a.example/2")
    found = await store.list_submissions(SubmissionFilter(media_id=first.submission.media_id))
    assert [d.submission.id for d in found] == [
        mirror.submission.id,
        again.submission.id,
        first.submission.id,
    ]


# --- review: priority and claims ------------------------------------------------------------


async def test_review_queue_by_priority_is_highest_score_then_oldest(
    store: Store, clock: FakeClock
) -> None:
    scores = [0.6, 0.9, 0.6, 0.8]
    for i, score in enumerate(scores):
        outcome = await _submit(store, clock, f"https://a.example/{i}")
        await _verdict(store, clock, outcome, Verdict.REVIEW, score=score)
    by_age = await store.list_review_items()
    by_priority = await store.list_review_items(by_priority=True)
    assert [i.score for i in by_age] == scores
    assert [i.score for i in by_priority] == [0.9, 0.8, 0.6, 0.6]
    assert by_priority[2].created_at < by_priority[3].created_at
    second_page = await store.list_review_items(by_priority=True, offset=1, limit=2)
    assert [i.id for i in second_page] == [i.id for i in by_priority[1:3]]


async def _open_item(store: Store, clock: FakeClock) -> str:
    outcome = await _submit(store, clock, "https://a.example/1")
    await _verdict(store, clock, outcome, Verdict.REVIEW, score=0.7)
    [item] = await store.list_review_items()
    return item.id


async def test_a_claimed_item_is_blocked_for_others_until_the_claim_expires(
    store: Store, clock: FakeClock
) -> None:
    item_id = await _open_item(store, clock)
    claimed = await store.claim_review_item(item_id, "key_alice", claim_seconds=60)
    assert claimed.claimed_by == "key_alice"
    assert claimed.claim_expires_at == clock() + timedelta(seconds=60)
    with pytest.raises(Conflict, match="claimed by another reviewer"):
        await store.claim_review_item(item_id, "key_bob", claim_seconds=60)
    with pytest.raises(Conflict, match="claimed by another reviewer"):
        await store.decide_review(item_id, ReviewDecision.CONFIRM, decided_by="key_bob")
    clock.advance(61)
    taken = await store.claim_review_item(item_id, "key_bob", claim_seconds=60)
    assert taken.claimed_by == "key_bob"


async def test_the_claimer_decides_and_the_claim_ends(store: Store, clock: FakeClock) -> None:
    item_id = await _open_item(store, clock)
    await store.claim_review_item(item_id, "key_alice", claim_seconds=60)
    decided = await store.decide_review(item_id, ReviewDecision.REJECT, decided_by="key_alice")
    assert (decided.claimed_by, decided.claim_expires_at) == (None, None)
    with pytest.raises(Conflict):
        await store.claim_review_item(item_id, "key_alice", claim_seconds=60)


async def test_releasing_a_claim_frees_the_item_but_only_for_its_holder(
    store: Store, clock: FakeClock
) -> None:
    item_id = await _open_item(store, clock)
    await store.claim_review_item(item_id, "key_alice", claim_seconds=60)
    kept = await store.release_review_item(item_id, "key_bob")
    assert kept.claimed_by == "key_alice"
    freed = await store.release_review_item(item_id, "key_alice")
    assert freed.claimed_by is None
    await store.claim_review_item(item_id, "key_bob", claim_seconds=60)
    with pytest.raises(NotFound):
        await store.claim_review_item("rev_unknown", "key_bob", claim_seconds=60)


# --- sign-in sessions -----------------------------------------------------------------------


async def test_a_session_lives_until_it_expires(store: Store, clock: FakeClock) -> None:
    key = await store.create_api_key("alice", [Scope.REVIEW], "d" * 64)
    made = await store.create_web_session("s" * 64, key.id, csrf_token="t", lifetime_seconds=60)
    found = await store.find_web_session("s" * 64)
    assert found is not None and found.key.id == key.id and found.csrf_token == "t"
    assert found.expires_at == made.expires_at == clock() + timedelta(seconds=60)
    clock.advance(61)
    assert await store.find_web_session("s" * 64) is None


async def test_a_session_ends_on_sign_out_and_on_revocation(store: Store, clock: FakeClock) -> None:
    key = await store.create_api_key("alice", [Scope.REVIEW], "d" * 64)
    await store.create_web_session("a" * 64, key.id, csrf_token="t", lifetime_seconds=600)
    await store.create_web_session("b" * 64, key.id, csrf_token="u", lifetime_seconds=600)
    await store.end_web_session("a" * 64)
    await store.end_web_session("a" * 64)  # twice is fine
    assert await store.find_web_session("a" * 64) is None
    assert await store.find_web_session("b" * 64) is not None
    await store.revoke_api_key(key.id)
    assert await store.find_web_session("b" * 64) is None
    with pytest.raises(NotFound):
        await store.create_web_session("c" * 64, key.id, csrf_token="v", lifetime_seconds=600)


# --- keyframes ------------------------------------------------------------------------------


def _frame(
    owner: str, millis: int, *, of_reference: bool, jpeg: bytes = b"\xff\xd8jpeg"
) -> Keyframe:
    return Keyframe(owner_id=owner, of_reference=of_reference, timestamp_millis=millis, jpeg=jpeg)


async def test_keyframes_are_kept_listed_by_time_and_replaced(
    store: Store, clock: FakeClock
) -> None:
    await store.put_keyframes(
        [_frame("med_1", 2000, of_reference=False), _frame("med_1", 500, of_reference=False)]
    )
    await store.put_keyframes([_frame("med_1", 2000, of_reference=False, jpeg=b"newer")])
    listed = await store.list_keyframes("med_1")
    assert [(k.timestamp_millis, k.size_bytes) for k in listed] == [(500, 6), (2000, 5)]
    assert (await store.get_keyframe("med_1", 2000)).jpeg == b"newer"
    with pytest.raises(NotFound):
        await store.get_keyframe("med_1", 1000)
    assert await store.list_keyframes("med_2") == []


async def test_retention_drops_old_query_keyframes_only(store: Store, clock: FakeClock) -> None:
    await store.put_keyframes(
        [_frame("med_old", 0, of_reference=False), _frame("ref_a", 0, of_reference=True)]
    )
    clock.advance(3600)
    await store.put_keyframes([_frame("med_new", 0, of_reference=False)])
    dropped = await store.delete_query_keyframes_before(clock() - timedelta(seconds=60))
    assert dropped == 1
    assert await store.list_keyframes("med_old") == []
    assert len(await store.list_keyframes("ref_a")) == 1
    assert len(await store.list_keyframes("med_new")) == 1
