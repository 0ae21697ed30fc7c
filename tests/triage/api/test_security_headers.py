"""Security headers: a strict CSP and framing ban on HTML, nosniff on everything."""

from __future__ import annotations

import re

from tests.triage.api.conftest import Api


def _directives(policy: str) -> dict[str, list[str]]:
    parts = (item.split() for item in policy.split(";") if item.strip())
    return {words[0]: words[1:] for words in parts}


async def test_docs_page_has_a_strict_policy(api: Api) -> None:
    response = await api.client.get("/docs")
    assert response.status == 200 and response.content_type == "text/html"
    policy = _directives(response.headers["Content-Security-Policy"])
    assert policy["default-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    for directive in ("script-src", "style-src"):
        assert policy[directive] == ["'self'"]
    assert "unsafe-inline" not in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "no-referrer"


async def test_docs_page_has_nothing_inline_that_the_policy_would_block(api: Api) -> None:
    html = await (await api.client.get("/docs")).text()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline script"
    assert "<style" not in html and "style=" not in html
    assert not re.search(r"\son[a-z]+=", html), "inline event handler"


async def test_docs_page_assets_are_served_from_the_same_origin(api: Api) -> None:
    html = await (await api.client.get("/docs")).text()
    assets = re.findall(r'(?:src|href)="(static/[^"]+)"', html)
    assert sorted(assets) == ["static/docs.css", "static/docs.js"]
    kinds = {"static/docs.js": "text/javascript", "static/docs.css": "text/css"}
    for asset in assets:
        response = await api.client.get(f"/{asset}")
        assert response.status == 200 and response.content_type == kinds[asset]
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "http://" not in await response.text()
    script = await (await api.client.get("/static/docs.js")).text()
    assert 'fetch("openapi.json")' in script


async def test_unknown_asset_is_a_404_problem(api: Api) -> None:
    response = await api.client.get("/static/../config.yaml")
    assert response.status == 404
    response = await api.client.get("/static/secrets.txt")
    assert response.status == 404 and response.content_type == "application/problem+json"


async def test_json_and_problem_answers_are_nosniff_without_a_page_policy(api: Api) -> None:
    ok = await api.client.get("/healthz")
    problem = await api.client.get("/v1/submissions/sub_x")
    for response in (ok, problem):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Server"] == "triage"
        assert "Content-Security-Policy" not in response.headers
    assert problem.status == 401
