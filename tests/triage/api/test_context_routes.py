"""`GET /v1/submissions` and its scoping, the report's context on review items, matches and
referrals (the note only with `referrals.share_notes`), review claims through the API. On
every store backend."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from tests.triage.store.backends import FakeClock
from triage.api.app import create_app
from triage.config import load_settings
from triage.evidence import FetchEvidence, MatchEvidence, SegmentEvidence
from triage.models import ApiKey, Scope, Verdict, new_api_key_token
from triage.store import Store

KEYS: dict[str, tuple[set[Scope], tuple[str, ...] | None]] = {
    "alice": ({Scope.SUBMIT}, None),
    "bob": ({Scope.SUBMIT}, None),
    "platform": ({Scope.READ}, ("example.com",)),
    "admin": ({Scope.ADMIN}, None),
    "reviewer": ({Scope.REVIEW}, None),
    "reviewer2": ({Scope.REVIEW}, None),
}


@dataclass
class Service:
    client: TestClient[web.Request, web.Application]
    store: Store
    tokens: dict[str, str]
    key_ids: dict[str, str]

    def auth(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[name]}"}

    async def submit(self, name: str, url: str, **fields: str) -> str:
        response = await self.client.post(
            "/v1/submissions", json={"url": url, **fields}, headers=self.auth(name)
        )
        assert response.status == 202, await response.text()
        return str((await response.json())["id"])

    async def get(self, name: str, path: str, status: int = 200) -> Any:
        response = await self.client.get(path, headers=self.auth(name))
        assert response.status == status, await response.text()
        return await response.json()


async def _service(store: Store, tmp_path: Path, *, share_notes: bool) -> Service:
    settings = load_settings(
        None,
        {
            "TRIAGE_DATA_DIR": str(tmp_path / "data"),
            "TRIAGE_STORE__URL": "memory://",
            "TRIAGE_REFERRALS__SHARE_NOTES": "true" if share_notes else "false",
        },
    )
    tokens, key_ids = {}, {}
    for name, (scopes, hosts) in KEYS.items():
        token = new_api_key_token()
        key = await store.create_api_key(name, scopes, ApiKey.digest(token), hosts=hosts)
        tokens[name], key_ids[name] = token, key.id
    client: TestClient[web.Request, web.Application] = TestClient(
        TestServer(create_app(store, settings))
    )
    await client.start_server()
    return Service(client, store, tokens, key_ids)


@pytest.fixture
async def service(store: Store, tmp_path: Path) -> AsyncIterator[Service]:
    made = await _service(store, tmp_path, share_notes=False)
    yield made
    await made.client.close()


async def _work(store: Store, clock: FakeClock, verdict: Verdict, score: float = 2.0) -> None:
    """A worker's part for the next job: fetched, matched, `verdict` recorded."""
    job = await store.claim_job("w")
    assert job is not None
    media = await store.get_media(job.target_id)
    evidence = FetchEvidence(
        final_url=media.url,
        sha256=job.target_id.ljust(64, "0")[:64],
        size_bytes=1,
        content_type="video/mp4",
        fetched_at=clock(),
    )
    await store.link_media_by_sha256(job.target_id, evidence)
    match = MatchEvidence(
        reference_id="ref_a",
        label="attack A",
        score=score,
        query_coverage=1.0,
        reference_coverage=0.5,
        matched_seconds=5.0,
        segments=(
            SegmentEvidence(
                query_start=0, query_end=5, reference_start=1, reference_end=6, score=4.0
            ),
        ),
    )
    await store.record_result(
        job.target_id,
        verdict=verdict,
        matches=[match],
        query_hashes=f"Q{job.target_id}",
        job_id=job.id,
        worker_id="w",
    )
    clock.advance(1)


async def test_each_key_lists_what_it_may_see(service: Service, clock: FakeClock) -> None:
    a1 = await service.submit("alice", "https://example.com/1")
    clock.advance(1)
    a2 = await service.submit("alice", "https://other.org/2")
    clock.advance(1)
    b1 = await service.submit("bob", "https://m.example.com/3")

    async def listed(name: str) -> list[str]:
        return [i["id"] for i in (await service.get(name, "/v1/submissions"))["items"]]

    assert await listed("alice") == [a2, a1]
    assert await listed("bob") == [b1]
    assert await listed("platform") == [b1, a1]
    assert await listed("admin") == [b1, a2, a1]
    await service.get("reviewer", "/v1/submissions", status=403)


async def test_listing_filters_by_external_id_and_pages(service: Service, clock: FakeClock) -> None:
    made = []
    for i in range(3):
        made.append(await service.submit("alice", f"https://example.com/{i}", external_id="c-1"))
        clock.advance(1)
    await service.submit("alice", "https://example.com/x", external_id="c-2")
    page = await service.get("alice", "/v1/submissions?external_id=c-1&limit=2")
    assert [i["id"] for i in page["items"]] == [made[2], made[1]]
    assert all(i["external_id"] == "c-1" for i in page["items"])
    rest = await service.get(
        "alice", f"/v1/submissions?external_id=c-1&limit=2&before={page['next_before']}"
    )
    assert [i["id"] for i in rest["items"]] == [made[0]]
    assert rest["next_before"] is None
    bad = await service.client.get("/v1/submissions?verdict=maybe", headers=service.auth("alice"))
    assert bad.status == 400


async def test_listing_by_verdict(service: Service, store: Store, clock: FakeClock) -> None:
    done = await service.submit("alice", "https://example.com/1")
    await _work(store, clock, Verdict.CONFIRMED)
    await service.submit("alice", "https://example.com/2")
    confirmed = await service.get("alice", "/v1/submissions?verdict=confirmed")
    assert [i["id"] for i in confirmed["items"]] == [done]
    waiting = await service.get("alice", "/v1/submissions?status=queued")
    assert [i["verdict"] for i in waiting["items"]] == [None]


async def test_feeds_carry_the_report_without_its_note(
    service: Service, store: Store, clock: FakeClock
) -> None:
    sub = await service.submit("alice", "https://example.com/1", external_id="c-1", note="secret")
    await _work(store, clock, Verdict.CONFIRMED)
    [referral] = (await service.get("platform", "/v1/referrals"))["items"]
    assert (referral["submission_id"], referral["external_id"], referral["note"]) == (
        sub,
        "c-1",
        None,
    )
    [match] = (await service.get("platform", "/v1/matches"))["items"]
    assert (match["submission_id"], match["external_id"], match["note"]) == (sub, "c-1", None)


async def test_notes_are_shared_when_the_setting_says_so(
    store: Store, tmp_path: Path, clock: FakeClock
) -> None:
    service = await _service(store, tmp_path, share_notes=True)
    try:
        await service.submit("alice", "https://example.com/1", note="for the platform")
        await _work(store, clock, Verdict.CONFIRMED)
        [referral] = (await service.get("platform", "/v1/referrals"))["items"]
        assert referral["note"] == "for the platform"
    finally:
        await service.client.close()


async def test_review_items_carry_the_report_and_claims_block_others(
    service: Service, store: Store, clock: FakeClock
) -> None:
    sub = await service.submit("alice", "https://example.com/1", external_id="c-1", note="look")
    await _work(store, clock, Verdict.REVIEW, score=0.7)
    [item] = (await service.get("reviewer", "/v1/review?order=priority"))["items"]
    assert (item["submission_id"], item["external_id"], item["submission_note"]) == (
        sub,
        "c-1",
        "look",
    )
    path = f"/v1/review/{item['id']}"
    claimed = await service.client.post(f"{path}/claim", headers=service.auth("reviewer"))
    assert claimed.status == 200
    assert (await claimed.json())["claimed_by"] == service.key_ids["reviewer"]
    blocked = await service.client.post(f"{path}/claim", headers=service.auth("reviewer2"))
    assert blocked.status == 409
    deciding = await service.client.post(
        path, json={"decision": "confirm"}, headers=service.auth("reviewer2")
    )
    assert deciding.status == 409
    released = await service.client.delete(f"{path}/claim", headers=service.auth("reviewer"))
    assert (await released.json())["claimed_by"] is None
    decided = await service.client.post(
        path, json={"decision": "confirm"}, headers=service.auth("reviewer2")
    )
    assert decided.status == 200
