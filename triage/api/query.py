"""The one parser of query-string parameters: every route reads its parameters through here.

Strict on purpose: integers are ASCII digits only (`isdigit()` also accepts `²` or `٣`, which
`int()` then refuses), with bounds; a parameter given twice is refused rather than guessed; text
has a length cap. Every refusal is a 400 problem that names the parameter.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

from aiohttp import web

from triage.api.problems import Problem

_E = TypeVar("_E", bound=StrEnum)

# 2**62 has 19 digits; refusing longer text first keeps int() away from huge inputs.
MAX_INTEGER_DIGITS = 19
MAX_TEXT_CHARS = 200


def _single(request: web.Request, name: str) -> str | None:
    """The parameter's one value, None when absent or empty."""
    values = request.query.getall(name, [])
    if len(values) > 1:
        raise Problem(400, f"query parameter {name!r} is given {len(values)} times; give it once")
    if not values or values[0] == "":
        return None
    return values[0]


def query_integer(request: web.Request, name: str, *, default: int, low: int, high: int) -> int:
    """A whole number from `low` to `high` written in ASCII digits, or `default` when absent."""
    raw = _single(request, name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()) or len(raw) > MAX_INTEGER_DIGITS:
        raise Problem(400, f"{name} must be an integer from {low} to {high} in ASCII digits")
    value = int(raw)
    if not low <= value <= high:
        raise Problem(400, f"{name} must be an integer from {low} to {high}, got {value}")
    return value


def query_choices(request: web.Request, name: str, kind: type[_E]) -> list[_E] | None:
    """A comma-separated list of `kind` values; None when absent (no filter)."""
    raw = _single(request, name)
    if raw is None:
        return None
    known = ", ".join(member.value for member in kind)
    if len(raw) > MAX_TEXT_CHARS:
        raise Problem(400, f"{name} must be a comma-separated list of: {known}")
    chosen: list[_E] = []
    for part in raw.split(","):
        text = part.strip()
        if not text:
            continue
        try:
            chosen.append(kind(text))
        except ValueError as exc:
            raise Problem(400, f"{name} must be a comma-separated list of: {known}") from exc
    if not chosen:
        raise Problem(400, f"{name} must name at least one of: {known}")
    return chosen


def query_choice(request: web.Request, name: str, choices: tuple[str, ...], default: str) -> str:
    """One of `choices`, or `default` when absent."""
    raw = _single(request, name)
    if raw is None:
        return default
    if raw not in choices:
        raise Problem(400, f"{name} must be one of: {', '.join(choices)}")
    return raw


def query_text(request: web.Request, name: str, *, max_chars: int = MAX_TEXT_CHARS) -> str | None:
    """Free text of at most `max_chars` characters, without control characters; None if absent."""
    raw = _single(request, name)
    if raw is None:
        return None
    if len(raw) > max_chars or not raw.isprintable():
        raise Problem(400, f"{name} must be printable text of at most {max_chars} characters")
    return raw
