"""Signing in to the pages: sessions that end on sign-out, expiry and revocation; cookies;
CSRF; scopes; the pages' Content-Security-Policy. Over the HTTP app, without a browser."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import ClientResponse, FormData, web

from tests.triage.api.conftest import Api, make_api
from tests.workers.tls import loopback_tls
from triage.api.app import create_app
from triage.models import ApiKey, SubmissionFilter
from triage.pages.sessions import SESSION_COOKIE, safe_next, token_digest


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    made = await make_api(tmp_path)
    yield made
    await made.client.close()


def _hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found is not None, f"no {name} field"
    return found.group(1)


async def _sign_in(api: Api, scope: str) -> ClientResponse:
    form = await api.client.get("/sign-in")
    csrf = _hidden(await form.text(), "csrf_token")
    return await api.client.post(
        "/sign-in",
        data={"csrf_token": csrf, "key": api.keys[scope], "next": "/"},
        allow_redirects=False,
    )


def _session_token(api: Api) -> str:
    for cookie in api.client.session.cookie_jar:
        if cookie.key == SESSION_COOKIE:
            return cookie.value
    raise AssertionError("no session cookie")


async def test_pages_send_a_signed_out_browser_to_sign_in(api: Api) -> None:
    home = await api.client.get("/", allow_redirects=False)
    assert (home.status, home.headers["Location"]) == (303, "/sign-in")
    review = await api.client.get("/review?offset=0", allow_redirects=False)
    assert review.headers["Location"] == "/sign-in?next=%2Freview%3Foffset%3D0"


async def test_sign_in_sets_a_strict_http_only_cookie_holding_only_the_session(api: Api) -> None:
    response = await _sign_in(api, "submit")
    assert (response.status, response.headers["Location"]) == (303, "/submissions")
    header = next(h for h in response.headers.getall("Set-Cookie") if SESSION_COOKIE in h)
    assert "HttpOnly" in header and "SameSite=Strict" in header
    assert "Secure" not in header  # plain HTTP here; over TLS the cookie is Secure
    token = _session_token(api)
    assert token != api.keys["submit"] and api.keys["submit"] not in header
    session = await api.store.find_web_session(token_digest(token))
    assert session is not None and session.key.name == "submit key"


async def test_an_unknown_key_does_not_sign_in(api: Api) -> None:
    form = await api.client.get("/sign-in")
    response = await api.client.post(
        "/sign-in",
        data={"csrf_token": _hidden(await form.text(), "csrf_token"), "key": "tt_nope"},
        allow_redirects=False,
    )
    assert response.status == 401
    assert "unknown or revoked" in await response.text()


async def test_sign_in_without_the_forms_token_is_refused(api: Api) -> None:
    response = await api.client.post(
        "/sign-in", data={"csrf_token": "forged", "key": api.keys["submit"]}, allow_redirects=False
    )
    assert response.status == 403
    assert all(c.key != SESSION_COOKIE for c in api.client.session.cookie_jar)


async def test_sign_out_ends_the_session_on_the_server(api: Api) -> None:
    await _sign_in(api, "submit")
    token = _session_token(api)
    page = await api.client.get("/submit")
    out = await api.client.post(
        "/sign-out",
        data={"csrf_token": _hidden(await page.text(), "csrf_token")},
        allow_redirects=False,
    )
    assert (out.status, out.headers["Location"]) == (303, "/sign-in")
    assert await api.store.find_web_session(token_digest(token)) is None
    # The old cookie, replayed, no longer opens anything.
    replay = await api.client.get(
        "/submit", headers={"Cookie": f"{SESSION_COOKIE}={token}"}, allow_redirects=False
    )
    assert replay.status == 303


async def test_revoking_the_key_ends_its_sessions(api: Api) -> None:
    await _sign_in(api, "submit")
    assert (await api.client.get("/submit", allow_redirects=False)).status == 200
    key = await api.store.find_active_api_key(ApiKey.digest(api.keys["submit"]))
    assert key is not None
    await api.store.revoke_api_key(key.id)
    response = await api.client.get("/submit", allow_redirects=False)
    assert response.status == 303 and response.headers["Location"].startswith("/sign-in")


async def test_a_form_without_the_csrf_token_is_refused(api: Api) -> None:
    await _sign_in(api, "submit")
    fields = {"links": "https://example.com/v", "csrf_token": "wrong"}
    response = await api.client.post("/submit", data=FormData(fields, default_to_multipart=True))
    assert response.status == 403
    assert await api.store.list_submissions(SubmissionFilter()) == []


async def test_the_api_takes_no_cookie(api: Api) -> None:
    await _sign_in(api, "admin")
    response = await api.client.get("/v1/submissions")
    assert response.status == 401


async def test_scopes_apply_to_pages(api: Api) -> None:
    await _sign_in(api, "submit")
    response = await api.client.get("/review", allow_redirects=False)
    assert response.status == 403


async def test_pages_carry_a_policy_without_inline_code(api: Api) -> None:
    response = await api.client.get("/sign-in")
    policy = response.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
    assert "script-src 'self'" in policy and "style-src 'self'" in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    html = await response.text()
    assert "<style" not in html and "style=" not in html and "<script>" not in html


@pytest.mark.parametrize(
    ("asked", "went"),
    [
        ("/review/rev_1?x=1", "/review/rev_1?x=1"),
        ("//evil.example/", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("", "/"),
    ],
)
def test_after_sign_in_only_pages_of_this_site_are_followed(asked: str, went: str) -> None:
    assert safe_next(asked) == went


async def test_behind_a_tls_proxy_the_cookie_is_always_secure(tmp_path: Path) -> None:
    made = await make_api(tmp_path, extra={"TRIAGE_PAGES__SECURE_COOKIES": "true"})
    try:
        form = await made.client.get("/sign-in")
        assert "Secure" in form.headers["Set-Cookie"]
        response = await made.client.post(
            "/sign-in",
            data={
                "csrf_token": _hidden(await form.text(), "csrf_token"),
                "key": made.keys["submit"],
            },
            headers={"Cookie": form.headers["Set-Cookie"].split(";")[0]},
            allow_redirects=False,
        )
        header = next(h for h in response.headers.getall("Set-Cookie") if SESSION_COOKIE in h)
        assert "Secure" in header and "HttpOnly" in header
    finally:
        await made.client.close()


async def test_over_tls_the_cookies_are_secure(api: Api, tmp_path: Path) -> None:
    tls = loopback_tls(tmp_path)
    runner = web.AppRunner(create_app(api.store, api.settings))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls.server).start()
    port = int(runner.addresses[0][1])
    try:
        connector = aiohttp.TCPConnector(ssl=tls.client)
        jar = aiohttp.CookieJar(unsafe=True)  # keep cookies of an IP address, like a browser
        async with aiohttp.ClientSession(connector=connector, cookie_jar=jar) as browser:
            base = f"https://127.0.0.1:{port}"
            async with browser.get(f"{base}/sign-in") as form:
                assert "Secure" in form.headers["Set-Cookie"]
                csrf = _hidden(await form.text(), "csrf_token")
            async with browser.post(
                f"{base}/sign-in",
                data={"csrf_token": csrf, "key": api.keys["review"]},
                allow_redirects=False,
            ) as signed_in:
                headers = signed_in.headers.getall("Set-Cookie")
                session = next(h for h in headers if SESSION_COOKIE in h)
                assert "Secure" in session and "HttpOnly" in session
    finally:
        await runner.cleanup()
