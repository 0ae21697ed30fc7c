"""One log line per request: method, path, status, duration and the key that asked.

The path is written without its query string (a query may carry a token someone pasted), and
no header is written at all: neither `Authorization` nor cookies reach the log. Health checks
and scrapes are logged at DEBUG, since they come every few seconds.
"""

from __future__ import annotations

import logging
import time

from aiohttp import web

from triage.api.auth import API_KEY
from triage.api.operation import Handler
from triage.logs import FIELDS_KEY

ACCESS_LOGGER = "triage.access"
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})

_log = logging.getLogger(ACCESS_LOGGER)


def _log_request(request: web.Request, status: int, started: float) -> None:
    key = request.get(API_KEY)
    fields = {
        "method": request.method,
        "path": request.path,
        "status": status,
        "duration_seconds": round(time.perf_counter() - started, 6),
        "key_id": key.id if key is not None else None,
        "remote": request.remote,
    }
    level = logging.DEBUG if request.path in QUIET_PATHS else logging.INFO
    _log.log(level, "%s %s %d", request.method, request.path, status, extra={FIELDS_KEY: fields})


@web.middleware
async def access_log_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        _log_request(request, exc.status, started)
        raise
    except BaseException:
        # aiohttp answers 500 for anything the problem middleware did not turn into a reply.
        _log_request(request, 500, started)
        raise
    _log_request(request, response.status, started)
    return response
