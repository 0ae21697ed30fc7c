"""The audit log: reference changes and review decisions, with the key that made them."""

from __future__ import annotations

from pathlib import Path

from tests.triage.api.conftest import Api
from tests.triage.api.results import record_result
from tests.triage.api.test_app import assert_problem, form
from triage.models import Verdict

CHAIR = "chair-orig-22-hd-no-bar.txt"


async def test_audit_lists_reference_changes_retries_and_reviews(
    api: Api, shared_data: Path
) -> None:
    text = (shared_data / "interop" / "vpdq" / CHAIR).read_bytes()
    await api.client.post(
        "/v1/references",
        data=form(file=(CHAIR, text), format="vpdq", id="r1"),
        headers=api.auth("admin"),
    )
    await api.client.post("/v1/references/r1/disable", headers=api.auth("admin"))
    await record_result(api, "https://a.example/v/1", Verdict.REVIEW, 0.7)
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
