"""The review queue: an item shows its evidence; a confirm refers it, a reject suppresses it."""

from __future__ import annotations

from tests.triage.api.conftest import Api
from tests.triage.api.results import record_result
from tests.triage.api.test_app import assert_problem
from triage.evidence import MatchEvidence, SegmentEvidence
from triage.models import Verdict


async def test_review_confirm_refers_and_reject_suppresses(api: Api) -> None:
    await record_result(api, "https://a.example/v/1", Verdict.REVIEW, 0.7)
    await record_result(api, "https://a.example/v/2", Verdict.REVIEW, 0.7)
    listed = await (await api.client.get("/v1/review", headers=api.auth("review"))).json()
    first, second = listed["items"]
    assert first["url"] == "https://a.example/v/1" and first["state"] == "open"
    confirm = await api.client.post(
        f"/v1/review/{first['id']}", json={"decision": "confirm"}, headers=api.auth("review")
    )
    assert (await confirm.json())["state"] == "confirmed"
    reject = await api.client.post(
        f"/v1/review/{second['id']}",
        json={"decision": "reject", "note": "news report"},
        headers=api.auth("review"),
    )
    assert (await reject.json())["state"] == "rejected"
    again = await api.client.post(
        f"/v1/review/{second['id']}", json={"decision": "confirm"}, headers=api.auth("review")
    )
    await assert_problem(again, 409)
    referrals = await (await api.client.get("/v1/referrals", headers=api.auth("read"))).json()
    assert [r["url"] for r in referrals["items"]] == ["https://a.example/v/1"]
    assert len(await api.store.list_suppressions()) == 1
    bad = await api.client.post(
        f"/v1/review/{first['id']}", json={"decision": "maybe"}, headers=api.auth("review")
    )
    await assert_problem(bad, 422)
    await assert_problem(await api.client.get("/v1/review", headers=api.auth("submit")), 403)


async def _review_item(api: Api, url: str) -> str:
    outcome = await api.store.create_submission(url=url, key_id="key_x")
    evidence = MatchEvidence(
        reference_id="ref-1",
        label="attack",
        score=0.7,
        query_coverage=0.4,
        reference_coverage=0.2,
        matched_seconds=3.0,
        segments=(
            SegmentEvidence(
                query_start=1,
                query_end=4,
                reference_start=10,
                reference_end=13,
                score=0.7,
                matched_frames=7,
                mean_distance=20.5,
            ),
        ),
        speed=1.2,
        views=("side",),
    )
    await api.store.record_result(
        outcome.submission.media_id,
        verdict=Verdict.REVIEW,
        matches=[evidence],
        query_hashes=f'{{"q": "{url}"}}',
    )
    (item,) = await api.store.list_review_items()
    return item.id


async def test_a_review_item_shows_itsmatch_evidence(api: Api) -> None:
    item_id = await _review_item(api, "https://a.example/v/1")
    response = await api.client.get(f"/v1/review/{item_id}", headers=api.auth("review"))
    assert response.status == 200, await response.text()
    body = await response.json()
    assert body["id"] == item_id and body["state"] == "open"
    assert body["url"] == "https://a.example/v/1"
    (match,) = body["matches"]
    assert match["reference_id"] == "ref-1" and match["score"] == 0.7
    # What to look for (a split screen's pane, at 1.2x speed) and how close the pairs were.
    assert (match["views"], match["speed"]) == (["side"], 1.2)
    assert match["segments"] == [
        {
            "query_start": 1,
            "query_end": 4,
            "reference_start": 10,
            "reference_end": 13,
            "score": 0.7,
            "matched_frames": 7,
            "mean_distance": 20.5,
        }
    ]


async def test_a_review_item_needs_the_review_scope_and_an_existing_id(api: Api) -> None:
    item_id = await _review_item(api, "https://a.example/v/1")
    await assert_problem(
        await api.client.get(f"/v1/review/{item_id}", headers=api.auth("read")), 403
    )
    await assert_problem(
        await api.client.get("/v1/review/rev_missing", headers=api.auth("review")), 404
    )
