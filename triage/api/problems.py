"""RFC 9457 problem details: every error the API returns is `application/problem+json`.

Handlers raise `Problem`; the middleware turns it, aiohttp's own HTTP errors, and anything
unexpected into a problem response. Unexpected exceptions become a 500 whose body says nothing
about internals; the traceback goes to the log only.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

from aiohttp import web

from triage.errors import (
    AuthError,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    StoreError,
    TriageError,
)

PROBLEM_JSON = "application/problem+json"
_log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Problem(Exception):
    """An error answer: `status`, a short `title` (defaults to the HTTP reason) and `detail`."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        title: str | None = None,
        type_: str = "about:blank",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = title or HTTPStatus(status).phrase
        self.type = type_
        self.headers = headers or {}

    def body(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": self.type,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        return body


def problem_response(problem: Problem, instance: str | None = None) -> web.Response:
    return web.Response(
        status=problem.status,
        body=json.dumps(problem.body(instance)).encode(),
        content_type=PROBLEM_JSON,
        headers=problem.headers,
    )


def _from_http_exception(exc: web.HTTPException) -> Problem:
    # aiohttp raises these for routing (404, 405) and body limits (413); keep their status.
    detail = exc.text if exc.text and not exc.text.startswith(f"{exc.status}:") else exc.reason
    headers = {}
    if isinstance(exc, web.HTTPMethodNotAllowed):
        headers["Allow"] = ", ".join(sorted(exc.allowed_methods))
    if exc.status == 413:
        detail = "request body too large"
    return Problem(exc.status, detail, headers=headers)


_STATUS_OF_ERROR: tuple[tuple[type[TriageError], int], ...] = (
    (NotFound, 404),
    (Conflict, 409),
    (InvalidInput, 422),
    (AuthError, 401),
    (Forbidden, 403),
)


def _from_triage_error(exc: TriageError) -> Problem:
    if isinstance(exc, StoreError):
        # The message may name database internals; keep it in the log.
        _log.error("store error: %s", exc)
        return Problem(503, "the store is unavailable; try again shortly")
    for kind, status in _STATUS_OF_ERROR:
        if isinstance(exc, kind):
            return Problem(status, str(exc))
    _log.error("unmapped service error: %r", exc)
    return Problem(500, "an internal error occurred; it has been logged")


@web.middleware
async def problem_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except Problem as problem:
        return problem_response(problem, request.path)
    except TriageError as exc:
        return problem_response(_from_triage_error(exc), request.path)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return problem_response(_from_http_exception(exc), request.path)
    except web.RequestPayloadError:
        # The body broke off or its chunked/compressed encoding is invalid: the client's fault.
        return problem_response(
            Problem(400, "the request body could not be read (malformed encoding)"), request.path
        )
    except Exception:
        _log.exception("unhandled error on %s %s", request.method, request.path)
        return problem_response(
            Problem(500, "an internal error occurred; it has been logged"), request.path
        )
    return response
