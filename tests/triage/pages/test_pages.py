"""The pages' content over HTTP (no browser): the review page in plain words, a reference
known only by hashes shown without pictures, claims, the submit form's checks, the poll's
JSON, and the new routes in the OpenAPI document."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from html import escape as html_escape
from pathlib import Path

import pytest
from aiohttp import FormData

from tests.triage.api.conftest import Api, make_api
from triage.api.fields import EXTERNAL_ID_MAX_CHARS, NOTE_MAX_CHARS
from triage.evidence import FetchEvidence, MatchEvidence, SegmentEvidence
from triage.models import Keyframe, SubmissionFilter, Verdict
from triage.pages.words import SCORE_EXPLAINED, view_words


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    made = await make_api(tmp_path)
    yield made
    await made.client.close()


def _hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found is not None
    return found.group(1)


async def _sign_in(api: Api, scope: str) -> None:
    form = await api.client.get("/sign-in")
    await api.client.post(
        "/sign-in",
        data={"csrf_token": _hidden(await form.text(), "csrf_token"), "key": api.keys[scope]},
        allow_redirects=False,
    )


async def _review_item(api: Api, *, views: tuple[str, ...], note: str = "<b>bold</b>") -> str:
    """A review item on an upload, matched to reference `ref_h` (known only by hashes)."""
    store = api.store
    await store.create_upload_submission(
        upload_path="/nowhere/x.mp4",
        sha256="a" * 64,
        upload_filename="clip.mp4",
        key_id="key_x",
        note=note,
        external_id="case-<7>",
    )
    job = await store.claim_job("w")
    assert job is not None
    evidence = FetchEvidence(
        final_url=None, sha256="a" * 64, size_bytes=1, content_type="video/mp4",
        fetched_at=datetime.now(UTC),
    )  # fmt: skip
    await store.link_media_by_sha256(job.target_id, evidence)
    match = MatchEvidence(
        reference_id="ref_h",
        label="attack H",
        score=0.8,
        query_coverage=0.5,
        reference_coverage=0.2,
        matched_seconds=6.0,
        speed=1.25,
        views=views,
        segments=(
            SegmentEvidence(
                query_start=2,
                query_end=8,
                reference_start=10,
                reference_end=17.5,
                score=7.5,
                matched_frames=24,
                mean_distance=31.0,
            ),
        ),
    )
    await store.record_result(
        job.target_id,
        verdict=Verdict.REVIEW,
        matches=[match],
        query_hashes="Q",
        job_id=job.id,
        worker_id="w",
    )
    [item] = await store.list_review_items()
    return item.id


async def test_the_review_page_says_what_matched_in_plain_words(api: Api) -> None:
    item_id = await _review_item(api, views=("flip", "tilt"))
    await _sign_in(api, "review")
    html = await (await api.client.get(f"/review/{item_id}")).text()
    assert "mirrored or turned sideways, filmed off a screen" in html
    assert "sped up (1.25× the original speed)" in html
    assert html_escape(SCORE_EXPLAINED) in html
    # The report's context, escaped: submitters' text never becomes markup.
    assert "case-&lt;7&gt;" in html and "&lt;b&gt;bold&lt;/b&gt;" in html and "<b>bold" not in html
    assert "Uploaded as a file (clip.mp4, SHA-256 " + "a" * 64 in html


async def test_a_reference_known_only_by_hashes_shows_times_and_scores_without_pictures(
    api: Api,
) -> None:
    item_id = await _review_item(api, views=("full",))
    [submission] = await api.store.list_submissions(SubmissionFilter())
    await api.store.put_keyframes(
        [
            Keyframe(
                owner_id=submission.media.id, of_reference=False, timestamp_millis=3000,
                jpeg=b"\xff\xd8q",
            )
        ]
    )  # fmt: skip
    await _sign_in(api, "review")
    html = await (await api.client.get(f"/review/{item_id}")).text()
    assert "held as hashes only" in html
    assert "<img" not in html
    assert "0:02.0 – 0:08.0" in html and "0:10.0 – 0:17.5" in html  # the matched times
    assert "7.5" in html and "31 of 256" in html  # evidence and closeness


async def test_keyframes_are_served_to_reviewers_only(api: Api) -> None:
    await api.store.put_keyframes(
        [Keyframe(owner_id="med_1", of_reference=False, timestamp_millis=500, jpeg=b"\xff\xd8x")]
    )
    await _sign_in(api, "submit")
    refused = await api.client.get("/pages/keyframe?owner=med_1&ms=500")
    assert refused.status == 403
    api.client.session.cookie_jar.clear()  # another person at another browser
    await _sign_in(api, "review")
    served = await api.client.get("/pages/keyframe?owner=med_1&ms=500")
    assert served.status == 200 and served.content_type == "image/jpeg"
    assert await served.read() == b"\xff\xd8x"
    assert (await api.client.get("/pages/keyframe?owner=med_1&ms=9")).status == 404


async def test_opening_an_item_by_claim_and_deciding_it(api: Api) -> None:
    item_id = await _review_item(api, views=("full",))
    await _sign_in(api, "review")
    page = await api.client.get(f"/review/{item_id}")
    html = await page.text()
    assert "Start reviewing" in html and 'id="decide"' not in html
    csrf = _hidden(html, "csrf_token")
    claimed = await api.client.post(
        f"/review/{item_id}/claim", data={"csrf_token": csrf}, allow_redirects=False
    )
    assert claimed.headers["Location"] == f"/review/{item_id}"
    assert 'id="decide"' in await (await api.client.get(f"/review/{item_id}")).text()
    decided = await api.client.post(
        f"/review/{item_id}/decide",
        data={"csrf_token": csrf, "decision": "reject", "note": "a film trailer"},
        allow_redirects=False,
    )
    assert decided.status == 303
    item = await api.store.get_review_item(item_id)
    assert (item.state.value, item.note) == ("rejected", "a film trailer")


async def test_the_submit_form_names_lines_that_are_not_links(api: Api) -> None:
    await _sign_in(api, "submit")
    csrf = _hidden(await (await api.client.get("/submit")).text(), "csrf_token")
    fields = {"csrf_token": csrf, "links": "https://example.com/a\nnot a link", "note": "n"}
    response = await api.client.post("/submit", data=FormData(fields, default_to_multipart=True))
    assert response.status == 422
    html = await response.text()
    assert "Not a web link: not a link" in html and "https://example.com/a" in html
    assert await api.store.list_submissions(SubmissionFilter()) == []


async def test_the_submit_form_refuses_a_note_over_the_apis_limit_with_the_apis_words(
    api: Api,
) -> None:
    await _sign_in(api, "submit")
    page = await (await api.client.get("/submit")).text()
    assert f'maxlength="{NOTE_MAX_CHARS}"' in page
    assert f'maxlength="{EXTERNAL_ID_MAX_CHARS}"' in page
    note = "n" * (NOTE_MAX_CHARS + 1)
    fields = {"csrf_token": _hidden(page, "csrf_token"), "links": "https://example.com/a"}
    form = FormData({**fields, "note": note}, default_to_multipart=True)
    form.add_field("file", b"\x00\x00\x00\x20ftypisom" * 10, filename="a.mp4")
    response = await api.client.post("/submit", data=form)
    assert response.status == 422
    from_api = await api.client.post(
        "/v1/submissions",
        json={"url": "https://example.com/a", "note": note},
        headers=api.auth("submit"),
    )
    detail = (await from_api.json(content_type=None))["detail"]
    assert html_escape(detail) in await response.text()
    assert await api.store.list_submissions(SubmissionFilter()) == []
    assert list(api.settings.uploads_dir.iterdir()) == []


async def test_a_decision_the_api_would_refuse_is_refused_on_the_page(api: Api) -> None:
    item_id = await _review_item(api, views=("full",))
    await _sign_in(api, "review")
    csrf = _hidden(await (await api.client.get(f"/review/{item_id}")).text(), "csrf_token")
    await api.client.post(f"/review/{item_id}/claim", data={"csrf_token": csrf})
    for sent in ({"decision": "maybe"}, {"decision": "reject", "note": "n" * (NOTE_MAX_CHARS + 1)}):
        response = await api.client.post(
            f"/review/{item_id}/decide", data={"csrf_token": csrf, **sent}
        )
        assert response.status == 422
        assert (await api.store.get_review_item(item_id)).state.value == "open"


async def test_submitted_links_and_files_belong_to_the_signed_in_key(api: Api) -> None:
    await _sign_in(api, "submit")
    csrf = _hidden(await (await api.client.get("/submit")).text(), "csrf_token")
    form = FormData()
    form.add_field("csrf_token", csrf)
    form.add_field("links", "https://example.com/a\n\nhttps://example.com/b\n")
    form.add_field("external_id", "case-1")
    form.add_field("file", b"\x00\x00\x00\x20ftypisom" * 10, filename="a.mp4")
    response = await api.client.post("/submit", data=form, allow_redirects=False)
    assert response.headers["Location"] == "/submissions?submitted=3"
    found = await api.store.list_submissions(SubmissionFilter(external_id="case-1"))
    assert len(found) == 3
    assert {d.submission.upload_filename for d in found} == {None, "a.mp4"}
    ids = ",".join(d.submission.id for d in found)
    states = await (await api.client.get(f"/submissions/states?ids={ids}")).json()
    assert [i["status"] for i in states["items"]] == ["waiting"] * 3
    listing = await (await api.client.get("/submissions")).text()
    assert listing.count("<tr data-id=") == 3


async def test_the_poll_shows_nothing_of_others_submissions(api: Api) -> None:
    theirs = await api.store.create_submission(url="https://example.com/x", key_id="key_other")
    await _sign_in(api, "submit")
    states = await (await api.client.get(f"/submissions/states?ids={theirs.submission.id}")).json()
    assert states == {"items": []}


def test_unknown_views_are_named_as_they_are() -> None:
    assert view_words(["side", "new_view"]) == ["one side of a split screen", "new_view"]


async def test_the_new_routes_are_in_the_openapi_document(api: Api) -> None:
    spec = await (await api.client.get("/openapi.json")).json()
    assert "get" in spec["paths"]["/v1/submissions"]
    assert {"post", "delete"} <= set(spec["paths"]["/v1/review/{id}/claim"])
    listing = spec["paths"]["/v1/submissions"]["get"]
    assert {p["name"] for p in listing["parameters"]} >= {"external_id", "before", "verdict"}
    assert "`read` or `submit`" in listing["description"]
    referral = spec["components"]["schemas"]["ReferralView"]["properties"]
    assert {"submission_id", "external_id", "note"} <= set(referral)


async def test_an_admin_sees_everyones_submissions(api: Api) -> None:
    await api.store.create_submission(url="https://example.com/x", key_id="key_other")
    await _sign_in(api, "admin")
    html = await (await api.client.get("/submissions")).text()
    assert "<h1>Submissions</h1>" in html and html.count("<tr data-id=") == 1
