"""Lookup: hashes the platform computed (vPDQ lines, JSON objects or triples, a JSONL record)
matched against the live list, nothing stored; errors name the frame or line."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from hashes.formats.jsonl import HashListEntry, dumps_record, loads_record
from hashes.formats.vpdq import read_vpdq
from hashes.index import ExactIndex
from hashes.matcher import Matcher
from hashes.types import VideoHashes
from tests.triage.api.conftest import Api, make_api
from tests.triage.api.test_app import assert_problem
from triage.api.app import create_app
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


async def test_lookup_with_vpdq_lines_confirms_a_copy(lookup_api: Api, shared_data: Path) -> None:
    # The platform holds the same video and hashed it with Meta's tools.
    text = (shared_data / "interop" / "vpdq" / CHAIR).read_text()
    response = await lookup_api.client.post(
        "/v1/lookup",
        data=text.encode(),
        headers={**lookup_api.auth("read"), "Content-Type": "text/plain"},
    )
    assert response.status == 200, await response.text()
    body = await response.json()
    assert body["verdict"] == "confirmed"
    assert body["matches"][0]["reference_id"] == "chair"
    assert body["matches"][0]["segments"]


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


async def test_lookup_with_json_frames_of_unrelated_video_is_none(
    lookup_api: Api, shared_data: Path
) -> None:
    other = read_vpdq(shared_data / "interop" / "vpdq" / DOORKNOB)
    frames = [
        {"timestamp": float(t), "hash": bytes(h).hex(), "quality": int(q)}
        for t, h, q in zip(other.timestamps, other.hashes, other.qualities, strict=True)
    ]
    response = await lookup_api.client.post(
        "/v1/lookup", json={"frames": frames}, headers=lookup_api.auth("read")
    )
    body = await response.json()
    assert response.status == 200 and body["verdict"] == "none" and body["matches"] == []


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


async def test_lookup_rejects_bad_input(lookup_api: Api) -> None:
    auth = lookup_api.auth("read")
    bad_hash = {"frames": [{"timestamp": 0, "hash": "zz" * 32}]}
    await assert_problem(
        await lookup_api.client.post("/v1/lookup", json=bad_hash, headers=auth), 422
    )
    await assert_problem(
        await lookup_api.client.post(
            "/v1/lookup", data=b"0,100,nothex,0.0\n", headers={**auth, "Content-Type": "text/plain"}
        ),
        422,
    )
    await assert_problem(
        await lookup_api.client.post(
            "/v1/lookup", data=b"x", headers={**auth, "Content-Type": "image/png"}
        ),
        415,
    )


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


async def test_lookup_without_an_index_is_503(api: Api) -> None:
    response = await api.client.post(
        "/v1/lookup",
        json={"frames": [{"timestamp": 0, "hash": "ab" * 32}]},
        headers=api.auth("read"),
    )
    await assert_problem(response, 503)


def test_dumps_record_helper_is_importable() -> None:
    # The JSONL writer is what the pipeline stores as query hashes; keep the two in step.
    entry = HashListEntry(
        reference_id="x",
        hashes=read_vpdq(io.StringIO("0,100," + "ab" * 32 + ",0.0\n")),
    )
    assert loads_record(dumps_record(entry)).reference_id == "x"
