"""Cursor paging for the feeds: `?after=CURSOR&limit=N`, answered with `next_cursor`."""

from __future__ import annotations

from aiohttp import web

from triage.api.operation import Param
from triage.api.problems import Problem

MAX_PAGE = 1000
DEFAULT_PAGE = 100

PAGE_PARAMS = (
    Param(
        "after",
        "query",
        "Cursor from the previous page's next_cursor (0: the start).",
        type_="integer",
    ),
    Param(
        "limit", "query", f"Items per page, 1-{MAX_PAGE} (default {DEFAULT_PAGE}).", type_="integer"
    ),
)


def _integer(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise Problem(400, f"{name} must be an integer from {low} to {high}, got {raw!r}")
    return int(raw)


def page_request(request: web.Request) -> tuple[int, int]:
    """(after, limit) from the query string."""
    after = _integer(request, "after", 0, 0, 2**62)
    limit = _integer(request, "limit", DEFAULT_PAGE, 1, MAX_PAGE)
    return after, limit


def next_cursor(cursors: list[int], after: int) -> int:
    """The last cursor on the page, or `after` when it is empty (poll again from there)."""
    return cursors[-1] if cursors else after
