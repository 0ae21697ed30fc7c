"""Lookup bodies (vPDQ, JSON objects or triples, a JSONL record) with errors that name the
frame or line; retro-matching queued when a reference turns active; the routes in OpenAPI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from hashes.formats.jsonl import HashListEntry, dumps_record
from hashes.formats.vpdq import read_vpdq
from hashes.index import ExactIndex
from hashes.matcher import Matcher
from hashes.types import VideoHashes
from tests.triage.api.conftest import Api, make_api
from tests.triage.api.test_app import assert_problem, form
from triage.api.app import create_app
from triage.evidence import MatchEvidence, SegmentEvidence
from triage.models import JobKind, Verdict
from triage.verdicts import Decision, VerdictStep

CHAIR = "chair-orig-22-hd-no-bar.txt"
DOORKNOB = "doorknob-hd-no-bar.txt"
NDJSON = "application/x-ndjson"


@pytest.fixture
def chair(shared_data: Path) -> VideoHashes:
    return read_vpdq(shared_data / "interop" / "vpdq" / CHAIR)


@pytest.fixture
async def lookup_api(tmp_path: Path, chair: VideoHashes) -> AsyncIterator[Api]:
    """An API whose lookup matches against a real index holding the chair reference."""
    base = await make_api(tmp_path)
    await base.client.close()
    index = ExactIndex()
    index.add("chair", chair)
    matcher = Matcher(index)

    verdicts = VerdictStep.from_settings(base.settings)

    async def lookup(query: VideoHashes) -> Decision:
        return verdicts.decide(matcher.match(query), lambda _: "chair attack")

    app: web.Application = create_app(base.store, base.settings, lookup=lookup)
    client: TestClient[web.Request, web.Application] = TestClient(TestServer(app))
    await client.start_server()
    yield Api(client=client, store=base.store, settings=base.settings, keys=base.keys)
    await client.close()


def _triples(hashes: VideoHashes) -> list[list[Any]]:
    return [
        [float(t), int(q), bytes(h).hex()]
        for t, q, h in zip(hashes.timestamps, hashes.qualities, hashes.hashes, strict=True)
    ]


async def _lookup(api: Api, body: bytes, content_type: str) -> Any:
    return await api.client.post(
        "/v1/lookup", data=body, headers={**api.auth("read"), "Content-Type": content_type}
    )


async def test_lookup_with_frame_triples_confirms_a_copy(
    lookup_api: Api, chair: VideoHashes
) -> None:
    response = await lookup_api.client.post(
        "/v1/lookup", json={"frames": _triples(chair)}, headers=lookup_api.auth("read")
    )
    assert response.status == 200, await response.text()
    body = await response.json()
    assert body["verdict"] == "confirmed" and body["score"] == body["matches"][0]["score"]
    assert body["matches"][0]["label"] == "chair attack" and body["matches"][0]["segments"]


async def test_lookup_with_a_jsonl_record_confirms_a_copy(
    lookup_api: Api, chair: VideoHashes
) -> None:
    record = dumps_record(HashListEntry(reference_id="platform-video-1", hashes=chair))
    response = await _lookup(lookup_api, record.encode(), NDJSON)
    assert response.status == 200, await response.text()
    assert (await response.json())["matches"][0]["reference_id"] == "chair"


async def test_lookup_of_unrelated_triples_is_none(lookup_api: Api, shared_data: Path) -> None:
    other = read_vpdq(shared_data / "interop" / "vpdq" / DOORKNOB)
    response = await lookup_api.client.post(
        "/v1/lookup", json={"frames": _triples(other)}, headers=lookup_api.auth("read")
    )
    body = await response.json()
    assert body == {"verdict": "none", "score": None, "matches": []}


async def test_lookup_stores_nothing(lookup_api: Api, chair: VideoHashes) -> None:
    await lookup_api.client.post(
        "/v1/lookup", json={"frames": _triples(chair)}, headers=lookup_api.auth("read")
    )
    assert await lookup_api.store.list_matches() == []
    assert await lookup_api.store.list_jobs() == []


@pytest.mark.parametrize(
    ("frames", "named"),
    [
        ([[0.0, 100, "ab" * 32], [1.0, 100, "zz" * 32]], "frames[1]: the hash must be 64 hex"),
        ([[0.0, 100, "ab" * 32], [1.0, 100, "ab" * 31]], "frames[1]: the hash must be 64 hex"),
        ([{"timestamp": 0, "hash": "ab" * 32}, [-1.0, 100, "ab" * 32]], "frames[1]: the time"),
        ([[0.0, 101, "ab" * 32]], "frames[0]: the quality"),
        ([{"timestamp": 0, "hash": "ab" * 32, "extra": 1}], "frames[0]: extra"),
        (["ab" * 32], "frames[0]: expected"),
        ([], "frames: from 1"),
    ],
)
async def test_lookup_names_the_bad_frame(lookup_api: Api, frames: list[Any], named: str) -> None:
    response = await lookup_api.client.post(
        "/v1/lookup", json={"frames": frames}, headers=lookup_api.auth("read")
    )
    problem = await assert_problem(response, 422)
    assert str(problem["detail"]).startswith(named), problem


async def test_lookup_names_the_bad_vpdq_line(lookup_api: Api) -> None:
    text = f"0,100,{'ab' * 32},0.000\n1,100,{'cd' * 31},1.000\n"
    problem = await assert_problem(await _lookup(lookup_api, text.encode(), "text/plain"), 422)
    assert "line 2" in str(problem["detail"])


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b'{"format": "triage.hashlist"}\n', 422),
        (b"not json\n", 422),
        (b"", 422),
        (b"\xff\xfe", 400),
    ],
)
async def test_lookup_refuses_a_bad_record(lookup_api: Api, body: bytes, status: int) -> None:
    await assert_problem(await _lookup(lookup_api, body, NDJSON), status)


async def test_lookup_refuses_a_record_sent_as_json(lookup_api: Api, chair: VideoHashes) -> None:
    record = dumps_record(HashListEntry(reference_id="x", hashes=chair))
    problem = await assert_problem(
        await _lookup(lookup_api, record.encode(), "application/json"), 422
    )
    assert NDJSON in str(problem["detail"])


async def test_lookup_needs_the_read_scope(lookup_api: Api) -> None:
    response = await lookup_api.client.post(
        "/v1/lookup", json={"frames": [[0, 100, "ab" * 32]]}, headers=lookup_api.auth("submit")
    )
    await assert_problem(response, 403)


async def _retro_jobs(api: Api) -> list[str]:
    return [j.target_id for j in await api.store.list_jobs() if j.kind is JobKind.RETRO_MATCH]


async def test_an_imported_reference_queues_retro_matching(api: Api, shared_data: Path) -> None:
    text = (shared_data / "interop" / "vpdq" / CHAIR).read_bytes()
    response = await api.client.post(
        "/v1/references",
        data=form(file=(CHAIR, text), format="vpdq", id="r1"),
        headers=api.auth("admin"),
    )
    assert response.status == 201, await response.text()
    assert await _retro_jobs(api) == ["r1"]
    await api.client.post("/v1/references/r1/disable", headers=api.auth("admin"))
    assert await _retro_jobs(api) == ["r1"]
    # Queries analysed while it was disabled are matched once it is active again.
    await api.client.post("/v1/references/r1/enable", headers=api.auth("admin"))
    assert await _retro_jobs(api) == ["r1", "r1"]


async def test_an_uploaded_reference_video_is_retro_matched_once_hashed(api: Api) -> None:
    response = await api.client.post(
        "/v1/references",
        data=form(file=("clip.mp4", b"\x00" * 64), label="clip"),
        headers=api.auth("admin"),
    )
    assert response.status == 202, await response.text()
    # Pending: nothing to match yet (the hashing job queues it when it finishes).
    assert await _retro_jobs(api) == []


async def test_after_verdict_routes_are_in_the_openapi_document(api: Api) -> None:
    spec = await (await api.client.get("/openapi.json")).json()
    paths = spec["paths"]
    for path, method in [
        ("/v1/referrals", "get"),
        ("/v1/matches", "get"),
        ("/v1/lookup", "post"),
        ("/v1/references/export", "get"),
        ("/v1/review", "get"),
        ("/v1/review/{id}", "get"),
        ("/v1/review/{id}", "post"),
        ("/v1/audit", "get"),
    ]:
        assert method in paths[path], path
    bodies = paths["/v1/lookup"]["post"]["requestBody"]["content"]
    assert set(bodies) == {"application/json", "text/plain", NDJSON}
    assert "LookupFramesIn" in spec["components"]["schemas"]


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


async def test_a_review_item_shows_its_evidence(api: Api) -> None:
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
