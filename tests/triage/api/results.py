"""Results and host-scoped keys made directly in the store, for the route tests that read
them back (feeds, review, audit, submissions)."""

from __future__ import annotations

from tests.triage.api.conftest import Api
from triage.evidence import MatchEvidence, SegmentEvidence
from triage.models import ApiKey, Scope, Verdict, new_api_key_token


def match_evidence(reference_id: str, score: float) -> MatchEvidence:
    """One matched reference with one segment, scored `score`."""
    return MatchEvidence(
        reference_id=reference_id,
        label=f"label {reference_id}",
        score=score,
        query_coverage=0.9,
        reference_coverage=0.5,
        matched_seconds=4.0,
        segments=(
            SegmentEvidence(
                query_start=0, query_end=4, reference_start=1, reference_end=5, score=score
            ),
        ),
    )


async def record_result(api: Api, url: str, verdict: Verdict, score: float) -> str:
    """A new submission of `url` with its result; returns its media id."""
    outcome = await api.store.create_submission(url=url, key_id="key_x")
    media_id = outcome.submission.media_id
    await api.store.record_result(
        media_id,
        verdict=verdict,
        matches=[match_evidence("ref-1", score)],
        query_hashes=f'{{"q": "{url}"}}',
    )
    return media_id


async def host_key(api: Api, hosts: tuple[str, ...]) -> dict[str, str]:
    """The headers of a new read key scoped to `hosts`."""
    token = new_api_key_token()
    await api.store.create_api_key("platform", {Scope.READ}, ApiKey.digest(token), hosts=hosts)
    return {"Authorization": f"Bearer {token}"}
