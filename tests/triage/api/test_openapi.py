"""The OpenAPI document lists the feed, review, audit, export and lookup routes."""

from __future__ import annotations

from tests.triage.api.conftest import Api

NDJSON = "application/x-ndjson"


async def test_the_feed_review_audit_export_and_lookup_routes_are_documented(api: Api) -> None:
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
