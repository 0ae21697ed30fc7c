"""The contract of `Submissions`, submissions, their media and results: deduplication by URL and
content, idempotency, results with their evidence, listing and filtering submissions, and the
stored query hashes retro-matching reads.

Every test runs on memory, SQLite and PostgreSQL (the `store` fixture)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from tests.triage.store.backends import FakeClock
from tests.triage.store.scenarios import (
    MATCH,
    content_of,
    fetch_evidence,
    fetched,
    process,
    submit,
    work_to_verdict,
)
from triage.errors import LeaseLost, NotFound
from triage.models import (
    JobKind,
    JobState,
    SubmissionFilter,
    SubmissionStatus,
    Verdict,
)
from triage.store import Store
from triage.store.protocols import Submissions


async def test_submission_creates_media_and_queued_job(store: Submissions) -> None:
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
        await store.link_media_by_sha256(first.submission.media_id, fetch_evidence(clock, sha))
        is None
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
        second.submission.media_id, fetch_evidence(clock, sha, "https://cdn.example/copy.mp4")
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
    await store.link_media_by_sha256(media_id, fetch_evidence(clock, "ef" * 32))
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
    assert detail.media.evidence == fetch_evidence(clock, "ef" * 32)
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


async def test_unknown_submission_is_not_found(store: Submissions) -> None:
    with pytest.raises(NotFound):
        await store.get_submission("sub_missing")


async def test_query_hashes_since_a_time_page_by_media_id(store: Store, clock: FakeClock) -> None:
    await process(store, clock, url="https://a.example/old", sha256="0" * 64, verdict=Verdict.NONE)
    clock.advance(3600)
    since = clock.now
    for n in range(1, 4):
        await process(
            store,
            clock,
            url=f"https://a.example/{n}",
            sha256=f"{n}" * 64,
            verdict=Verdict.NONE,
            query_hashes=f"Q{n}",
        )
    first = await store.list_query_hashes(since=since, limit=2)
    rest = await store.list_query_hashes(since=since, after_media_id=first[-1].media_id)
    records = first + rest
    assert sorted(q.query_hashes for q in records) == ["Q1", "Q2", "Q3"]
    assert [q.media_id for q in records] == sorted(q.media_id for q in records)
    assert all(q.created_at >= since for q in records)
    everything = await store.list_query_hashes(since=since - timedelta(days=1))
    assert len(everything) == 4


async def test_submissions_are_listed_newest_first_and_paged(
    store: Store, clock: FakeClock
) -> None:
    made = [await submit(store, clock, f"https://a.example/{i}") for i in range(5)]
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
    mine = await submit(store, clock, "https://m.example.com/1", external_id="case-7")
    await submit(store, clock, "https://other.org/2", external_id="case-7")
    theirs = await submit(store, clock, "https://example.com/3", key_id="other")

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
    done = await submit(store, clock, "https://a.example/1")
    waiting = await submit(store, clock, "https://a.example/2")
    await work_to_verdict(store, clock, done, Verdict.CONFIRMED)

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
    first = await submit(store, clock, "https://a.example/1")
    again = await submit(store, clock, "https://a.example/1", key_id="other")
    await work_to_verdict(store, clock, first, Verdict.REVIEW, score=0.7)
    # The same bytes at another URL: a copy of the first media, sharing its result.
    mirror = await submit(store, clock, "https://mirror.example/1")
    job = await store.claim_job("w")
    assert job is not None and job.target_id == mirror.submission.media_id
    evidence = fetched(clock, mirror.submission.url, content_of(first))
    assert await store.link_media_by_sha256(job.target_id, evidence) is not None
    await submit(store, clock, "https://a.example/2")
    found = await store.list_submissions(SubmissionFilter(media_id=first.submission.media_id))
    assert [d.submission.id for d in found] == [
        mirror.submission.id,
        again.submission.id,
        first.submission.id,
    ]
