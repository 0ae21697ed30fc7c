"""Requests that aiohttp's parser refuses before the application: answered as problem+json,
logged without the bytes they carried."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from prometheus_client import REGISTRY

from tests.loopback import raw_exchange
from tests.triage.api.conftest import make_api
from triage.api.problems import PROBLEM_JSON
from triage.api.server import UNPARSED_ROUTE, ApiRunner

TOKEN = "tt_" + "Q" * 43


@pytest.fixture
async def api_keys() -> dict[str, str]:
    """Filled by `served`: scope name → token."""
    return {}


@pytest.fixture
async def served(tmp_path: Path, api_keys: dict[str, str]) -> AsyncIterator[int]:
    """The API behind `ApiRunner` on a free loopback port."""
    api = await make_api(tmp_path)
    api_keys.update(api.keys)
    app = api.client.app
    await api.client.close()
    assert app is not None
    runner = ApiRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield runner.addresses[0][1]
    finally:
        await runner.cleanup()


def _unparsed_count() -> float:
    labels = {"method": "UNKNOWN", "route": UNPARSED_ROUTE, "status": "400"}
    return REGISTRY.get_sample_value("triage_http_requests_total", labels) or 0.0


FOLDED = (
    b"GET /v1/referrals HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    b"Authorization: Bearer\r\n " + TOKEN.encode() + b"\r\nConnection: close\r\n\r\n"
)


@pytest.mark.parametrize(
    "raw",
    [
        FOLDED,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Key: " + TOKEN.encode() + b"\x01\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Long: " + b"a" * 20_000 + b"\r\n\r\n",
        b"GET /v1/audit?k=" + TOKEN.encode() + b" HTTP/1.1 junk\r\n\r\n",
    ],
    ids=["folded-authorization", "control-character", "overlong-header", "bad-request-line"],
)
async def test_parser_errors_are_problems_that_quote_nothing(
    served: int, raw: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    before = _unparsed_count()
    status, headers, body = await raw_exchange(served, raw)
    assert _unparsed_count() == before + 1
    assert status == 400
    assert headers["content-type"].startswith(PROBLEM_JSON)
    assert headers["x-content-type-options"] == "nosniff" and headers["server"] == "triage"
    problem = json.loads(body)
    assert problem["status"] == 400 and problem["title"] == "Bad Request" and problem["detail"]
    assert TOKEN.encode() not in body and b"aaaa" not in body
    assert TOKEN not in caplog.text
    assert "refused a malformed request" in caplog.text


async def test_a_well_formed_request_still_reaches_the_application(served: int) -> None:
    status, _, body = await raw_exchange(
        served, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    assert status == 200 and json.loads(body)["status"] == "ok"


async def test_a_broken_chunked_body_is_a_400_problem(served: int) -> None:
    # Refused by the parser before any handler ran.
    raw = (
        b"POST /v1/submissions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b'Transfer-Encoding: chunked\r\n\r\n5\r\n{"url\r\nzz\r\n\r\n'
    )
    status, headers, _ = await raw_exchange(served, raw)
    assert status == 400
    assert headers["content-type"].startswith(PROBLEM_JSON)


async def test_a_body_that_fails_to_decompress_is_a_400_problem(
    served: int, api_keys: dict[str, str]
) -> None:
    # aiohttp inflates the body as the handler reads it; broken gzip fails inside the handler.
    garbage = b"\x1f\x8b\x08\x00" + b"not gzip at all" * 4
    status, headers, body = await raw_exchange(
        served,
        b"POST /v1/submissions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
        + api_keys["submit"].encode()
        + b"\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
        + f"Content-Length: {len(garbage)}\r\nConnection: close\r\n\r\n".encode()
        + garbage,
    )
    assert status == 400, body
    assert headers["content-type"].startswith(PROBLEM_JSON)
    assert b"malformed encoding" in body
