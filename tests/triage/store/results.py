"""Media processed the way a worker processes them, for the contract tests of what follows a
result (referrals, the match feed, review, query hashes)."""

from __future__ import annotations

from tests.triage.store.backends import FakeClock
from triage.models import FetchEvidence, MatchEvidence, SegmentEvidence, SubmitOutcome, Verdict
from triage.store import Store

LEASE_SECONDS = 30.0


def match_evidence(reference_id: str = "ref_a", score: float = 2.0) -> MatchEvidence:
    """One matched reference with one segment."""
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


async def process_media(
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
    job = await store.claim_job("w", lease_seconds=LEASE_SECONDS)
    assert job is not None and job.target_id == outcome.submission.media_id
    media_id = outcome.submission.media_id
    evidence = FetchEvidence(
        final_url=url,
        sha256=sha256,
        size_bytes=10,
        content_type="video/mp4",
        fetched_at=clock(),
    )
    if await store.link_media_by_sha256(media_id, evidence) is not None:
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
