"""Every query parameter goes through one strict parser: ASCII digits, bounds, given once."""

from __future__ import annotations

import pytest

from tests.triage.api.conftest import Api
from tests.triage.api.test_app import assert_problem

# (path, scope) of every route whose parameters include an integer.
PAGED = [
    ("/v1/matches", "read"),
    ("/v1/referrals", "read"),
    ("/v1/audit", "admin"),
]
LIMITED = [*PAGED, ("/v1/jobs", "admin")]


@pytest.mark.parametrize(("path", "scope"), PAGED)
@pytest.mark.parametrize("value", ["²", "٣", "1²", "+1", " 1", "1_000", "0x10", "9" * 5000])
async def test_after_outside_ascii_digits_is_a_400_problem(
    api: Api, path: str, scope: str, value: str
) -> None:
    response = await api.client.get(path, params={"after": value}, headers=api.auth(scope))
    body = await assert_problem(response, 400)
    assert "after" in str(body["detail"])


@pytest.mark.parametrize(("path", "scope"), LIMITED)
@pytest.mark.parametrize("value", ["²", "0", "1001", "-5", "1.5"])
async def test_bad_limit_is_a_400_problem(api: Api, path: str, scope: str, value: str) -> None:
    response = await api.client.get(path, params={"limit": value}, headers=api.auth(scope))
    body = await assert_problem(response, 400)
    assert "limit" in str(body["detail"])


@pytest.mark.parametrize(("path", "scope"), LIMITED)
async def test_good_limit_is_accepted(api: Api, path: str, scope: str) -> None:
    response = await api.client.get(path, params={"limit": "1000"}, headers=api.auth(scope))
    assert response.status == 200, await response.text()


async def test_a_parameter_given_twice_is_refused(api: Api) -> None:
    response = await api.client.get("/v1/matches?limit=5&limit=6", headers=api.auth("read"))
    body = await assert_problem(response, 400)
    assert "once" in str(body["detail"])


@pytest.mark.parametrize(
    ("path", "scope", "query"),
    [
        ("/v1/jobs", "admin", "state=sleeping"),
        ("/v1/review", "review", "state=closed"),
        ("/v1/review", "review", "state=,"),
        ("/v1/references", "admin", "status=gone"),
        ("/v1/references/export", "admin", "format=csv"),
        ("/v1/matches", "read", "verdict=maybe"),
        ("/v1/matches", "read", "reference_id=a%00b"),
        ("/v1/matches", "read", "reference_id=" + "r" * 201),
    ],
)
async def test_bad_choice_or_text_is_a_400_problem(
    api: Api, path: str, scope: str, query: str
) -> None:
    await assert_problem(await api.client.get(f"{path}?{query}", headers=api.auth(scope)), 400)


async def test_spec_states_the_integer_bounds(api: Api) -> None:
    spec = await (await api.client.get("/openapi.json")).json()
    params = {p["name"]: p["schema"] for p in spec["paths"]["/v1/matches"]["get"]["parameters"]}
    assert params["limit"] == {"type": "integer", "minimum": 1, "maximum": 1000}
    assert params["after"]["minimum"] == 0
