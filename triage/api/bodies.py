"""Reading and writing JSON bodies through the pydantic models."""

from __future__ import annotations

import json
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


async def read_json(request: web.Request, model: type[_M]) -> _M:
    if request.content_type != "application/json":
        raise Problem(415, "expected application/json")
    if request.content_length is not None and request.content_length > MAX_JSON_BYTES:
        raise Problem(413, f"a JSON body may not exceed {MAX_JSON_BYTES} bytes")
    raw = await request.content.read(MAX_JSON_BYTES + 1)
    if len(raw) > MAX_JSON_BYTES:
        raise Problem(413, f"a JSON body may not exceed {MAX_JSON_BYTES} bytes")
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise Problem(400, f"the body is not valid JSON: {exc}") from exc
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
