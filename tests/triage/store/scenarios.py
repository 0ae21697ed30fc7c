"""Stores brought to a state the contract suites start from: evidence, matches, submissions
worked to a verdict the way a worker does."""

from __future__ import annotations

from tests.triage.store.backends import FakeClock
from triage.evidence import FetchEvidence, MatchEvidence, SegmentEvidence
from triage.models import (
    SubmitOutcome,
    Verdict,
)
from triage.store import Store

RECORD = '{"format": "triage-hashes/1", "id": "r"}'


def fetch_evidence(
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


def match_evidence(reference_id: str = "ref_a", score: float = 2.0) -> MatchEvidence:
    return MatchEvidence(
        reference_id=reference_id,
        label=f"label of {reference_id}",
        score=score,
        query_coverage=0.5,
        reference_coverage=0.5,
        matched_seconds=8.0,
        segments=(
            SegmentEvidence(
                query_start=0.0, query_end=8.0, reference_start=2.0, reference_end=10.0, score=score
            ),
        ),
    )


def fetched(clock: FakeClock, url: str | None, sha256: str) -> FetchEvidence:
    """What a worker's fetch of `url` found: a small video with this content."""
    return FetchEvidence(
        final_url=url, sha256=sha256, size_bytes=10, content_type="video/mp4", fetched_at=clock()
    )


def content_of(outcome: SubmitOutcome) -> str:
    """The SHA-256 `work_to_verdict` gives the media of `outcome` (one per media)."""
    return outcome.submission.media_id.ljust(64, "0")[:64]


async def process(
    store: Store,
    clock: FakeClock,
    *,
    url: str | None,
    sha256: str,
    verdict: Verdict,
    matches: list[MatchEvidence] | None = None,
    query_hashes: str = "Q",
) -> SubmitOutcome:
    """Submit, fetch and match one media the way a worker does; returns the submission."""
    if url is None:
        outcome = await store.create_upload_submission(
            upload_path="/uploads/x.mp4", sha256=sha256, upload_filename="x.mp4", key_id="k"
        )
    else:
        outcome = await store.create_submission(url=url, key_id="k")
    job = await store.claim_job("w")
    assert job is not None and job.target_id == outcome.submission.media_id
    media_id = outcome.submission.media_id
    if await store.link_media_by_sha256(media_id, fetched(clock, url, sha256)) is not None:
        await store.complete_job(job.id, "w")
        return outcome
    await store.record_result(
        media_id,
        verdict=verdict,
        matches=matches if matches is not None else [match_evidence()],
        query_hashes=query_hashes,
        job_id=job.id,
        worker_id="w",
    )
    clock.advance(1)
    return outcome


async def submit(
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


async def work_to_verdict(
    store: Store, clock: FakeClock, outcome: SubmitOutcome, verdict: Verdict, score: float = 2.0
) -> None:
    """Work the next job (the media of `outcome`) to `verdict`, the way a worker does."""
    job = await store.claim_job("w")
    assert job is not None and job.target_id == outcome.submission.media_id
    evidence = fetched(clock, outcome.submission.url, content_of(outcome))
    assert await store.link_media_by_sha256(job.target_id, evidence) is None
    matches = [match_evidence(score=score)] if verdict is not Verdict.NONE else []
    await store.record_result(
        job.target_id,
        verdict=verdict,
        matches=matches,
        query_hashes=f"Q{job.target_id}",
        job_id=job.id,
        worker_id="w",
    )
    clock.advance(1)


async def open_review_item(store: Store, clock: FakeClock) -> str:
    outcome = await submit(store, clock, "https://a.example/1")
    await work_to_verdict(store, clock, outcome, Verdict.REVIEW, score=0.7)
    [item] = await store.list_review_items()
    return item.id
