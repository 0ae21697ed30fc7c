"""The feeds: referrals and matches, paged, filtered, and limited to a key's hosts."""

from __future__ import annotations

import pytest

from tests.triage.api.conftest import Api
from tests.triage.api.results import host_key, record_result
from tests.triage.api.test_app import assert_problem
from triage.models import Verdict


async def test_referrals_feed_pages_and_respects_host_scope(api: Api) -> None:
    await record_result(api, "https://a.example/v/1", Verdict.CONFIRMED, 3.0)
    await record_result(api, "https://b.example/v/2", Verdict.CONFIRMED, 3.0)
    await record_result(api, "https://a.example/v/3", Verdict.NONE, 0.1)
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
        await api.client.get("/v1/referrals", headers=await host_key(api, ("b.example",)))
    ).json()
    assert [r["host"] for r in scoped["items"]] == ["b.example"]


async def test_match_feed_filters_by_verdict_and_host(api: Api) -> None:
    await record_result(api, "https://a.example/v/1", Verdict.CONFIRMED, 3.0)
    await record_result(api, "https://a.example/v/2", Verdict.NONE, 0.1)
    await record_result(api, "https://b.example/v/3", Verdict.REVIEW, 0.7)
    response = await api.client.get(
        "/v1/matches?verdict=confirmed,review", headers=api.auth("read")
    )
    body = await response.json()
    assert [m["verdict"] for m in body["items"]] == ["confirmed", "review"]
    scoped = await (
        await api.client.get("/v1/matches", headers=await host_key(api, ("a.example",)))
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
