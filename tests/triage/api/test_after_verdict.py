"""Match feed, referrals with host-scoped keys, review, audit, export and lookup."""

from __future__ import annotations

import io
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from hashes.formats.jsonl import HashListEntry, dumps_record, loads_record
from hashes.formats.vpdq import read_vpdq
from hashes.index import ExactIndex
from hashes.matcher import Matcher
from hashes.types import VideoHashes
from tests.triage.api.conftest import Api, make_api
from tests.triage.api.test_app import assert_problem, form
from triage.api.app import create_app
from triage.evidence import MatchEvidence, SegmentEvidence
from triage.models import ApiKey, Scope, Verdict, new_api_key_token
from triage.verdicts import Decision, VerdictStep

VPDQ_NAME = "chair-orig-22-hd-no-bar.txt"


def _evidence(reference_id: str, score: float) -> MatchEvidence:
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


async def _result(api: Api, url: str, verdict: Verdict, score: float) -> str:
    outcome = await api.store.create_submission(url=url, key_id="key_x")
    media_id = outcome.submission.media_id
    await api.store.record_result(
        media_id,
        verdict=verdict,
        matches=[_evidence("ref-1", score)],
        query_hashes=f'{{"q": "{url}"}}',
    )
    return media_id


async def _host_key(api: Api, hosts: tuple[str, ...]) -> dict[str, str]:
    token = new_api_key_token()
    await api.store.create_api_key("platform", {Scope.READ}, ApiKey.digest(token), hosts=hosts)
    return {"Authorization": f"Bearer {token}"}


async def test_referrals_feed_pages_and_respects_host_scope(api: Api) -> None:
    await _result(api, "https://a.example/v/1", Verdict.CONFIRMED, 3.0)
    await _result(api, "https://b.example/v/2", Verdict.CONFIRMED, 3.0)
    await _result(api, "https://a.example/v/3", Verdict.NONE, 0.1)
    first = await (await api.client.get("/v1/referrals?limit=1", headers=api.auth("read"))).json()
    assert [r["url"] for r in first["items"]] == ["https://a.example/v/1"]
    assert first["items"][0]["evidence"]["segments"][0]["reference_end"] == 5
    rest = await (
        await api.client.get(
            f"/v1/referrals?after={first['next_cursor']}", headers=api.auth("read")
        )
    ).json()
    assert [r["url"] for r in rest["items"]] == ["https://b.example/v/2"]
    empty = await (
        await api.client.get(f"/v1/referrals?after={rest['next_cursor']}", headers=api.auth("read"))
    ).json()
    assert empty == {"items": [], "next_cursor": rest["next_cursor"]}
    scoped = await (
        await api.client.get("/v1/referrals", headers=await _host_key(api, ("b.example",)))
    ).json()
    assert [r["host"] for r in scoped["items"]] == ["b.example"]


async def test_match_feed_filters_by_verdict_and_host(api: Api) -> None:
    await _result(api, "https://a.example/v/1", Verdict.CONFIRMED, 3.0)
    await _result(api, "https://a.example/v/2", Verdict.NONE, 0.1)
    await _result(api, "https://b.example/v/3", Verdict.REVIEW, 0.7)
    response = await api.client.get(
        "/v1/matches?verdict=confirmed,review", headers=api.auth("read")
    )
    body = await response.json()
    assert [m["verdict"] for m in body["items"]] == ["confirmed", "review"]
    scoped = await (
        await api.client.get("/v1/matches", headers=await _host_key(api, ("a.example",)))
    ).json()
    assert {m["host"] for m in scoped["items"]} == {"a.example"}
    by_reference = await (
        await api.client.get("/v1/matches?reference_id=ref-none", headers=api.auth("read"))
    ).json()
    assert by_reference["items"] == []


@pytest.mark.parametrize("query", ["after=-1", "limit=0", "limit=5000", "verdict=maybe"])
async def test_bad_feed_parameters_are_400(api: Api, query: str) -> None:
    await assert_problem(
        await api.client.get(f"/v1/matches?{query}", headers=api.auth("read")), 400
    )


async def test_review_confirm_refers_and_reject_suppresses(api: Api) -> None:
    await _result(api, "https://a.example/v/1", Verdict.REVIEW, 0.7)
    await _result(api, "https://a.example/v/2", Verdict.REVIEW, 0.7)
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


async def test_audit_lists_reference_changes_retries_and_reviews(
    api: Api, shared_data: Path
) -> None:
    text = (shared_data / "interop" / "vpdq" / VPDQ_NAME).read_bytes()
    await api.client.post(
        "/v1/references",
        data=form(file=(VPDQ_NAME, text), format="vpdq", id="r1"),
        headers=api.auth("admin"),
    )
    await api.client.post("/v1/references/r1/disable", headers=api.auth("admin"))
    await _result(api, "https://a.example/v/1", Verdict.REVIEW, 0.7)
    (item,) = (await (await api.client.get("/v1/review", headers=api.auth("review"))).json())[
        "items"
    ]
    await api.client.post(
        f"/v1/review/{item['id']}", json={"decision": "reject"}, headers=api.auth("review")
    )
    audit = await (await api.client.get("/v1/audit", headers=api.auth("admin"))).json()
    actions = [(e["action"], e["target"]) for e in audit["items"]]
    assert actions[:2] == [("reference.add", "r1"), ("reference.disabled", "r1")]
    assert any(a.startswith("review") for a, _ in actions[2:])
    admin_key = next(k for k in await api.store.list_api_keys() if k.name == "admin key")
    assert audit["items"][0]["actor"] == admin_key.id
    await assert_problem(await api.client.get("/v1/audit", headers=api.auth("read")), 403)


async def test_export_jsonl_and_vpdq(api: Api, shared_data: Path) -> None:
    text = (shared_data / "interop" / "vpdq" / VPDQ_NAME).read_bytes()
    for rid in ("r1", "r2"):
        await api.client.post(
            "/v1/references",
            data=form(file=(VPDQ_NAME, text), format="vpdq", id=rid),
            headers=api.auth("admin"),
        )
    await api.client.delete("/v1/references/r2", headers=api.auth("admin"))
    jsonl = await api.client.get("/v1/references/export?format=jsonl", headers=api.auth("admin"))
    lines = (await jsonl.text()).splitlines()
    assert [loads_record(line).reference_id for line in lines] == ["r1"]
    vpdq = await api.client.get("/v1/references/export?format=vpdq", headers=api.auth("admin"))
    assert vpdq.content_type == "application/zip"
    with zipfile.ZipFile(io.BytesIO(await vpdq.read())) as archive:
        assert archive.namelist() == ["r1.txt"]
        exported = read_vpdq(io.StringIO(archive.read("r1.txt").decode()))
    original = read_vpdq(shared_data / "interop" / "vpdq" / VPDQ_NAME)
    assert (exported.hashes == original.hashes).all()
    await assert_problem(
        await api.client.get("/v1/references/export?format=tmk", headers=api.auth("admin")), 400
    )


@pytest.fixture
async def lookup_api(tmp_path: Path, shared_data: Path) -> AsyncIterator[Api]:
    """An API whose lookup matches against a real index holding one imported reference."""
    base = await make_api(tmp_path)
    await base.client.close()
    reference = read_vpdq(shared_data / "interop" / "vpdq" / VPDQ_NAME)
    index = ExactIndex()
    index.add("chair", reference)
    matcher = Matcher(index)

    verdicts = VerdictStep.from_settings(base.settings)

    async def lookup(query: VideoHashes) -> Decision:
        return verdicts.decide(matcher.match(query), lambda _: "chair attack")

    app: web.Application = create_app(base.store, base.settings, lookup=lookup)
    client: TestClient[web.Request, web.Application] = TestClient(TestServer(app))
    await client.start_server()
    yield Api(client=client, store=base.store, settings=base.settings, keys=base.keys)
    await client.close()


async def test_lookup_with_vpdq_lines_confirms_a_copy(lookup_api: Api, shared_data: Path) -> None:
    # The platform holds the same video and hashed it with Meta's tools.
    text = (shared_data / "interop" / "vpdq" / VPDQ_NAME).read_text()
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


async def test_lookup_with_json_frames_of_unrelated_video_is_none(
    lookup_api: Api, shared_data: Path
) -> None:
    other = read_vpdq(shared_data / "interop" / "vpdq" / "doorknob-hd-no-bar.txt")
    frames = [
        {"timestamp": float(t), "hash": bytes(h).hex(), "quality": int(q)}
        for t, h, q in zip(other.timestamps, other.hashes, other.qualities, strict=True)
    ]
    response = await lookup_api.client.post(
        "/v1/lookup", json={"frames": frames}, headers=lookup_api.auth("read")
    )
    body = await response.json()
    assert response.status == 200 and body["verdict"] == "none" and body["matches"] == []


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


async def test_host_scoped_key_reads_only_submissions_on_its_hosts(api: Api) -> None:
    ours = await api.store.create_submission(url="https://video.a.example/v/1", key_id="key_x")
    theirs = await api.store.create_submission(url="https://b.example/v/2", key_id="key_x")
    auth = await _host_key(api, ("a.example",))
    mine = await api.client.get(f"/v1/submissions/{ours.submission.id}", headers=auth)
    assert mine.status == 200
    other = await api.client.get(f"/v1/submissions/{theirs.submission.id}", headers=auth)
    await assert_problem(other, 404)
