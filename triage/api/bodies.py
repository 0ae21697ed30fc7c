"""Request bodies read through the pydantic models, JSON and multipart forms alike (the same
limits, the same 422 messages); responses written from them."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from triage.api.problems import Problem

_M = TypeVar("_M", bound=BaseModel)
MAX_JSON_BYTES = 64 * 1024


def describe_validation(error: ValidationError) -> str:
    parts = []
    for item in error.errors(include_url=False):
        where = ".".join(str(p) for p in item["loc"]) or "body"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)


async def read_capped(request: web.Request, max_bytes: int, too_large: Problem) -> bytes:
    """The whole body, refusing with `too_large` as soon as it passes `max_bytes`."""
    chunks: list[bytes] = []
    size = 0
    # StreamReader.read(n) may return less than n before the end: read to EOF.
    while chunk := await request.content.read(64 * 1024):
        size += len(chunk)
        if size > max_bytes:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json(
    request: web.Request, model: type[_M], *, max_bytes: int = MAX_JSON_BYTES
) -> _M:
    if request.content_type != "application/json":
        raise Problem(415, "expected application/json")
    too_large = Problem(413, f"a JSON body may not exceed {max_bytes} bytes")
    if request.content_length is not None and request.content_length > max_bytes:
        raise too_large
    raw = await read_capped(request, max_bytes, too_large)
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise Problem(400, f"the body is not valid JSON: {exc}") from exc
    return validated(model, data)


def form_fields(fields: Mapping[str, str], model: type[_M]) -> _M:
    """A form's text fields (read and capped by the multipart reader) as `model`; an empty or
    blank field counts as absent, as a form sends every input, filled in or not."""
    return validated(model, {name: value for name, value in fields.items() if value.strip()})


def validated(model: type[_M], data: object) -> _M:
    """`data` as `model`, or a 422 problem naming each field that fails."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise Problem(422, describe_validation(exc)) from exc


def send(
    model: BaseModel, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        status=status,
        text=model.model_dump_json(),
        content_type="application/json",
        headers=headers,
    )
