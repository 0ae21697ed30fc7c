"""Parked referrals over the API: listed and retried by admins only, retries audited;
`/readyz` naming why a part is not ready; large uploads put on the long lane."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from tests.triage.api.conftest import Api, make_api
from tests.triage.api.test_app import assert_problem, form
from tests.workers.delivery.test_relay import confirm
from triage.api.app import create_app
from triage.models import JobLane, ParkedState


async def _parked(api: Api) -> str:
    await confirm(api.store, "https://a.example/v/1")
    (referral,) = await api.store.list_referrals()
    await api.store.park_referral("webhook", referral.id, error="HTTP 422", refusals=5)
    return referral.id


async def test_an_admin_lists_parked_referrals(api: Api) -> None:
    referral_id = await _parked(api)
    response = await api.client.get("/v1/referrals/parked", headers=api.auth("admin"))
    assert response.status == 200, await response.text()
    (item,) = (await response.json())["items"]
    assert item["sink"] == "webhook" and item["state"] == "parked" and item["refusals"] == 5
    assert item["last_error"] == "HTTP 422" and item["referral"]["id"] == referral_id
    delivered = await api.client.get(
        "/v1/referrals/parked?state=delivered", headers=api.auth("admin")
    )
    assert (await delivered.json())["items"] == []


async def test_only_admins_see_or_retry_parked_referrals(api: Api) -> None:
    referral_id = await _parked(api)
    for scope in ("read", "submit", "review"):
        listed = await api.client.get("/v1/referrals/parked", headers=api.auth(scope))
        await assert_problem(listed, 403)
        retried = await api.client.post(
            f"/v1/referrals/{referral_id}/retry", headers=api.auth(scope)
        )
        await assert_problem(retried, 403)


async def test_a_retry_requeues_the_referral_and_is_audited(api: Api) -> None:
    referral_id = await _parked(api)
    response = await api.client.post(
        f"/v1/referrals/{referral_id}/retry", headers=api.auth("admin")
    )
    assert response.status == 200, await response.text()
    (item,) = (await response.json())["items"]
    assert item["state"] == "requeued"
    (requeued,) = await api.store.list_parked_referrals(states=[ParkedState.REQUEUED])
    assert requeued.referral.id == referral_id
    (entry,) = [e for e in await api.store.list_audit() if e.action == "referral.retry"]
    assert entry.target == referral_id and entry.details == {"sinks": ["webhook"]}
    admin = next(k for k in await api.store.list_api_keys() if k.name == "admin key")
    assert entry.actor == admin.id
    again = await api.client.post(f"/v1/referrals/{referral_id}/retry", headers=api.auth("admin"))
    await assert_problem(again, 409)


async def test_retrying_an_unknown_referral_is_404(api: Api) -> None:
    response = await api.client.post("/v1/referrals/rfl_nope/retry", headers=api.auth("admin"))
    await assert_problem(response, 404)


async def test_a_bad_parked_state_is_400(api: Api) -> None:
    response = await api.client.get("/v1/referrals/parked?state=lost", headers=api.auth("admin"))
    await assert_problem(response, 400)


async def test_readyz_names_the_reason_of_a_failing_check(tmp_path: Path) -> None:
    base = await make_api(tmp_path)
    await base.client.close()
    app = create_app(
        base.store, base.settings, readiness={"webhook": lambda: "refused by the address guard"}
    )
    client: TestClient[web.Request, web.Application] = TestClient(TestServer(app))
    await client.start_server()
    try:
        response = await client.get("/readyz")
        assert response.status == 503
        body = await response.json()
        assert body["checks"] == {"store": True, "webhook": False}
        assert body["reasons"] == {"webhook": "refused by the address guard"}
    finally:
        await client.close()


async def test_an_upload_over_the_long_media_size_goes_on_the_long_lane(tmp_path: Path) -> None:
    base = await make_api(tmp_path)
    await base.client.close()
    settings = base.settings.model_copy(
        update={"jobs": base.settings.jobs.model_copy(update={"long_media_bytes": 1000})}
    )
    app = create_app(base.store, settings)
    client: TestClient[web.Request, web.Application] = TestClient(TestServer(app))
    await client.start_server()
    try:
        for name, size in (("short.mp4", 999), ("long.mp4", 1001)):
            response = await client.post(
                "/v1/submissions",
                data=form(file=(name, bytes([size % 251]) * size)),
                headers=base.auth("submit"),
            )
            assert response.status in (200, 201, 202), await response.text()
    finally:
        await client.close()
    lanes = [job.lane for job in await base.store.list_jobs()]
    assert lanes == [JobLane.SHORT, JobLane.LONG]
