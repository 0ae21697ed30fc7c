"""The access log: one line per request with the key id, never a header, never the query."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from tests.triage.api.conftest import Api
from triage.api.access_log import ACCESS_LOGGER
from triage.logs import JsonFormatter


@pytest.fixture
def access_lines() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger(ACCESS_LOGGER)
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield stream
    logger.removeHandler(handler)
    logger.setLevel(logging.NOTSET)


def _lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


async def test_a_request_gives_one_line_with_method_path_status_duration_and_key_id(
    api: Api, access_lines: io.StringIO
) -> None:
    token = api.keys["read"]
    response = await api.client.get(
        f"/v1/submissions/sub_missing?token={token}",
        headers={**api.auth("read"), "Cookie": f"session={token}"},
    )
    assert response.status == 404
    (line,) = _lines(access_lines)
    assert (line["method"], line["path"], line["status"]) == (
        "GET",
        "/v1/submissions/sub_missing",
        404,
    )
    assert line["level"] == "INFO" and line["logger"] == ACCESS_LOGGER
    assert 0 <= line["duration_seconds"] < 10
    (key,) = [k for k in await api.store.list_api_keys() if k.name == "read key"]
    assert line["key_id"] == key.id
    # Neither the Authorization header, the cookie nor the query string is written.
    assert token not in access_lines.getvalue()


async def test_a_refused_key_is_logged_without_a_key_id(
    api: Api, access_lines: io.StringIO
) -> None:
    response = await api.client.get(
        "/v1/submissions/sub_x", headers={"Authorization": "Bearer tt_not_a_key"}
    )
    assert response.status == 401
    (line,) = _lines(access_lines)
    assert (line["status"], line["key_id"]) == (401, None)
    assert "tt_not_a_key" not in access_lines.getvalue()


async def test_health_checks_and_scrapes_are_logged_at_debug(
    api: Api, access_lines: io.StringIO
) -> None:
    for path in ("/healthz", "/readyz", "/metrics"):
        assert (await api.client.get(path)).status == 200
    assert {line["level"] for line in _lines(access_lines)} == {"DEBUG"}
    assert [line["path"] for line in _lines(access_lines)] == ["/healthz", "/readyz", "/metrics"]


async def test_an_unknown_route_is_logged_with_its_status(
    api: Api, access_lines: io.StringIO
) -> None:
    assert (await api.client.get("/nowhere")).status == 404
    (line,) = _lines(access_lines)
    assert (line["path"], line["status"], line["key_id"]) == ("/nowhere", 404, None)
