"""Multipart limits: fields read whole, few and short; a flood is refused early, in bounded
memory; the whole body is capped."""

from __future__ import annotations

import asyncio
import time
import tracemalloc
from collections.abc import AsyncIterator

from tests.triage.api.conftest import UPLOAD_CAP_BYTES, Api
from tests.triage.api.test_app import assert_problem, form

BOUNDARY = "flood-boundary-7f3a"
VIDEO = ("clip.mp4", b"\x00\x00\x00\x18ftypmp42" + b"\x01" * 512)


def _part(name: str, value: bytes) -> bytes:
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        + value
        + b"\r\n"
    )


async def _field_flood(count: int, value_bytes: int) -> AsyncIterator[bytes]:
    value = b"v" * value_bytes
    for start in range(0, count, 1000):
        yield b"".join(_part(f"f{i}", value) for i in range(start, min(count, start + 1000)))
    yield f"--{BOUNDARY}--\r\n".encode()


async def test_an_8000_byte_field_is_read_whole(api: Api) -> None:
    # 2,000 four-byte characters: the longest note, 8,000 bytes, spans several reads.
    note = "\U0001f600" * 2000
    response = await api.client.post(
        "/v1/submissions", data=form(file=VIDEO, note=note), headers=api.auth("submit")
    )
    assert response.status == 202, await response.text()
    submission_id = (await response.json())["id"]
    detail = await api.client.get(f"/v1/submissions/{submission_id}", headers=api.auth("read"))
    assert (await detail.json())["note"] == note


async def test_a_field_that_arrives_in_two_pieces_is_read_whole(api: Api) -> None:
    # The field's 8,000 bytes arrive in two TCP writes, split inside a character: one read of
    # the part returns only the first piece.
    note = "\U0001f600" * 2000
    raw = note.encode()
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="note"\r\n\r\n'.encode() + raw[:3001]
    )
    tail = raw[3001:] + b"\r\n" + _part("file", VIDEO[1]) + f"--{BOUNDARY}--\r\n".encode()

    async def body() -> AsyncIterator[bytes]:
        yield head
        await asyncio.sleep(0.2)  # shapes the input (two TCP segments); nothing waits on it
        yield tail

    response = await api.client.post(
        "/v1/submissions",
        data=body(),
        headers={
            **api.auth("submit"),
            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
        },
    )
    assert response.status == 202, await response.text()
    submission_id = (await response.json())["id"]
    detail = await api.client.get(f"/v1/submissions/{submission_id}", headers=api.auth("read"))
    assert (await detail.json())["note"] == note


async def test_a_field_over_the_cap_is_413(api: Api) -> None:
    too_long = "x" * (api.settings.server.max_form_field_bytes + 1)
    response = await api.client.post(
        "/v1/submissions", data=form(file=VIDEO, note=too_long), headers=api.auth("submit")
    )
    body = await assert_problem(response, 413)
    assert "note" in str(body["detail"])


async def test_a_field_flood_is_refused_fast_in_bounded_memory(api: Api) -> None:
    # 200,000 fields of 200 bytes (45 MB) sent as a stream: refused after the field cap,
    # without keeping the fields; the rest of the body is read and dropped.
    tracemalloc.start()
    started = time.monotonic()
    try:
        response = await api.client.post(
            "/v1/submissions",
            data=_field_flood(200_000, 200),
            headers={
                **api.auth("submit"),
                "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
            },
        )
        _, peak_bytes = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    elapsed_seconds = time.monotonic() - started
    body = await assert_problem(response, 413)
    assert "text fields" in str(body["detail"])
    assert peak_bytes < 16 * 1024 * 1024, f"peak {peak_bytes} bytes"
    assert elapsed_seconds < 30
    assert (await api.client.get("/healthz")).status == 200


async def test_a_body_over_the_total_cap_is_413_before_it_is_read(api: Api) -> None:
    limits = api.settings.server
    declared = UPLOAD_CAP_BYTES + limits.max_form_overhead_bytes + 1
    # Only the headers go out; the answer comes from Content-Length alone.
    response = await api.client.post(
        "/v1/submissions",
        data=b"",
        headers={
            **api.auth("submit"),
            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
            "Content-Length": str(declared),
        },
    )
    body = await assert_problem(response, 413)
    assert "multipart body" in str(body["detail"])


async def test_a_chunked_body_is_capped_while_it_is_read(api: Api) -> None:
    # No Content-Length, and no part over its own cap: 3 MB of preamble before the first
    # boundary still passes the whole-body cap (file cap + overhead allowance, 2 MiB here).
    async def body() -> AsyncIterator[bytes]:
        line = b"p" * 998 + b"\r\n"
        for _ in range(3000):
            yield line
        yield _part("file", b"x" * 100) + f"--{BOUNDARY}--\r\n".encode()

    response = await api.client.post(
        "/v1/submissions",
        data=body(),
        headers={
            **api.auth("submit"),
            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
        },
    )
    body_ = await assert_problem(response, 413)
    assert "multipart body" in str(body_["detail"])


async def test_an_unnamed_part_and_a_repeated_field_are_400(api: Api) -> None:
    unnamed = (
        _part("file", b"x" * 100)
        + f"--{BOUNDARY}\r\nContent-Type: text/plain\r\n\r\nhello\r\n--{BOUNDARY}--\r\n".encode()
    )
    twice = _part("file", b"x" * 100) + _part("note", b"a") + _part("note", b"b")
    for raw in (unnamed, twice + f"--{BOUNDARY}--\r\n".encode()):
        response = await api.client.post(
            "/v1/submissions",
            data=raw,
            headers={
                **api.auth("submit"),
                "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
            },
        )
        await assert_problem(response, 400)
