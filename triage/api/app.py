"""The aiohttp application: operations from `routes`, auth per operation, problem+json errors,
OpenAPI at `/openapi.json` and an offline docs page at `/docs`."""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Mapping
from importlib import resources

from aiohttp import web
from limits import parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter

from triage import metrics
from triage.api.access_log import access_log_middleware
from triage.api.auth import authenticate
from triage.api.context import CONTEXT, ApiContext, LookupFunction, ReadinessCheck
from triage.api.openapi import build_spec
from triage.api.operation import Handler, Operation
from triage.api.problems import problem_middleware
from triage.api.routes import (
    audit,
    feeds,
    health,
    jobs,
    lookup,
    parked,
    references,
    review,
    submissions,
)
from triage.api.security_headers import security_headers_middleware
from triage.config import Settings
from triage.pages.routes import add_pages
from triage.store.protocol import Store

API_TITLE = "Takedown triage API"
API_VERSION = "1"
# Only JSON bodies go through aiohttp's own size check; uploads are streamed with their own cap.
MAX_PLAIN_BODY_BYTES = 1024 * 1024
_DOCS_ASSETS = {"docs.js": "text/javascript", "docs.css": "text/css"}


def all_operations() -> list[Operation]:
    return [
        *submissions.OPERATIONS,
        *references.OPERATIONS,
        *jobs.OPERATIONS,
        *parked.OPERATIONS,
        *feeds.OPERATIONS,
        *lookup.OPERATIONS,
        *review.OPERATIONS,
        *audit.OPERATIONS,
        *health.OPERATIONS,
    ]


def _guarded(op: Operation) -> Handler:
    scopes = op.scopes
    if not scopes:
        return op.handler

    @functools.wraps(op.handler)
    async def handler(request: web.Request) -> web.StreamResponse:
        await authenticate(request, *scopes)
        return await op.handler(request)

    return handler


@web.middleware
async def _count_requests(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    route = request.match_info.route.resource
    template = route.canonical if route is not None else "unmatched"
    response = await handler(request)
    metrics.http_requests_total.labels(request.method, template, str(response.status)).inc()
    metrics.http_request_duration_seconds.labels(request.method, template).observe(
        time.perf_counter() - started
    )
    return response


def create_app(
    store: Store,
    settings: Settings,
    *,
    readiness: Mapping[str, ReadinessCheck] | None = None,
    lookup: LookupFunction | None = None,
) -> web.Application:
    """The API over `store`, each key limited to `server.rate_limit`. `readiness` adds named
    checks to `/readyz` (e.g. the index); `lookup` matches hashes against the live hash list
    for `/v1/lookup`."""
    # Security headers outside the problem middleware, so that error answers get them too.
    app = web.Application(
        middlewares=[
            access_log_middleware,
            _count_requests,
            security_headers_middleware,
            problem_middleware,
        ],
        client_max_size=MAX_PLAIN_BODY_BYTES,
    )
    app[CONTEXT] = ApiContext(
        store=store,
        settings=settings,
        limiter=MovingWindowRateLimiter(MemoryStorage()),
        rate=parse(settings.server.rate_limit),
        readiness=dict(readiness or {}),
        lookup=lookup,
    )
    operations = all_operations()
    for op in operations:
        app.router.add_route(op.method, op.path, _guarded(op), name=op.operation_id)
    spec_body = json.dumps(build_spec(operations, title=API_TITLE, version=API_VERSION))
    static = resources.files("triage.api").joinpath("static")
    docs_page = static.joinpath("docs.html").read_text("utf-8")
    # The page's script and style are files, so the CSP needs no 'unsafe-inline'.
    assets = {
        name: (static.joinpath(name).read_text("utf-8"), content_type)
        for name, content_type in _DOCS_ASSETS.items()
    }

    async def openapi_json(request: web.Request) -> web.Response:
        return web.Response(text=spec_body, content_type="application/json")

    async def docs(request: web.Request) -> web.Response:
        return web.Response(text=docs_page, content_type="text/html")

    async def docs_asset(request: web.Request) -> web.Response:
        found = assets.get(request.match_info["name"])
        if found is None:
            raise web.HTTPNotFound()
        text, content_type = found
        return web.Response(text=text, content_type=content_type)

    app.router.add_get("/openapi.json", openapi_json)
    app.router.add_get("/docs", docs)
    app.router.add_get("/static/{name}", docs_asset)
    add_pages(app)
    return app
