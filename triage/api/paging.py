"""Cursor paging for the feeds: `?after=CURSOR&limit=N`, answered with `next_cursor`."""

from __future__ import annotations

from aiohttp import web

from triage.api.operation import Param
from triage.api.query import query_integer

MAX_PAGE = 1000
DEFAULT_PAGE = 100
MAX_CURSOR = 2**62

PAGE_PARAMS = (
    Param(
        "after",
        "query",
        "Cursor from the previous page's next_cursor (0: the start).",
        type_="integer",
        minimum=0,
        maximum=MAX_CURSOR,
    ),
    Param(
        "limit",
        "query",
        f"Items per page, 1-{MAX_PAGE} (default {DEFAULT_PAGE}).",
        type_="integer",
        minimum=1,
        maximum=MAX_PAGE,
    ),
)


def page_request(request: web.Request) -> tuple[int, int]:
    """(after, limit) from the query string."""
    after = query_integer(request, "after", default=0, low=0, high=MAX_CURSOR)
    limit = query_integer(request, "limit", default=DEFAULT_PAGE, low=1, high=MAX_PAGE)
    return after, limit


def next_cursor(cursors: list[int], after: int) -> int:
    """The last cursor on the page, or `after` when it is empty (poll again from there)."""
    return cursors[-1] if cursors else after
