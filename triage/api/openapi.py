"""OpenAPI 3.1 document built from the operation table and its pydantic models."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from triage.api.operation import Operation, Param
from triage.api.problems import PROBLEM_JSON
from triage.api.schemas import ProblemBody

_REF = "#/components/schemas/{model}"
_AUTH_ERRORS = (401, 403, 429)


def _collect_models(
    operations: list[Operation],
) -> list[tuple[type[BaseModel], JsonSchemaMode]]:
    # A dict keeps the order and drops duplicates.
    seen: dict[tuple[type[BaseModel], JsonSchemaMode], None] = {
        (ProblemBody, "serialization"): None
    }
    for op in operations:
        for _, model in op.requests:
            seen[(model, "validation")] = None
        if op.response is not None:
            seen[(op.response, "serialization")] = None
        for _, model in op.other_successes:
            seen[(model, "serialization")] = None
    return list(seen)


def _problem(status: int) -> dict[str, Any]:
    return {
        "description": HTTPStatus(status).phrase,
        "content": {PROBLEM_JSON: {"schema": {"$ref": _REF.format(model="ProblemBody")}}},
    }


def _param_schema(param: Param) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": param.type_}
    if param.choices:
        schema["enum"] = list(param.choices)
    if param.minimum is not None:
        schema["minimum"] = param.minimum
    if param.maximum is not None:
        schema["maximum"] = param.maximum
    return schema


def build_spec(operations: list[Operation], *, title: str, version: str) -> dict[str, Any]:
    models = _collect_models(operations)
    refs, top = models_json_schema(models, ref_template=_REF)
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        entry: dict[str, Any] = {
            "operationId": op.operation_id,
            "summary": op.summary,
            "tags": [op.tag],
        }
        if op.scope is None:
            entry["security"] = []
        else:
            names = " or ".join(f"`{s.value}`" for s in op.scopes)
            entry["description"] = f"Needs a key with the {names} scope."
        if op.params:
            entry["parameters"] = [
                {
                    "name": p.name,
                    "in": p.location,
                    "required": p.required or p.location == "path",
                    "description": p.description,
                    "schema": _param_schema(p),
                }
                for p in op.params
            ]
        if op.requests:
            entry["requestBody"] = {
                "required": True,
                "content": {
                    ctype: {"schema": refs[(model, "validation")]} for ctype, model in op.requests
                },
            }
        ok: dict[str, Any] = {"description": HTTPStatus(op.status).phrase}
        if op.response is not None:
            ok["content"] = {op.response_content: {"schema": refs[(op.response, "serialization")]}}
        responses: dict[str, Any] = {str(op.status): ok}
        for status, model in op.other_successes:
            responses[str(status)] = {
                "description": HTTPStatus(status).phrase,
                "content": {op.response_content: {"schema": refs[(model, "serialization")]}},
            }
        errors = set(op.errors) | (set(_AUTH_ERRORS) if op.scope is not None else set())
        for status in sorted(errors):
            responses[str(status)] = _problem(status)
        entry["responses"] = responses
        paths.setdefault(op.path, {})[op.method.lower()] = entry
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": top.get("$defs", {}),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }
