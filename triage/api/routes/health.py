"""Liveness, readiness and Prometheus metrics (no key needed)."""

from __future__ import annotations

from aiohttp import web

from triage.api.bodies import send
from triage.api.context import context
from triage.api.metrics_app import metrics_response
from triage.api.operation import Operation
from triage.api.schemas import HealthView
from triage.errors import TriageError


async def healthz(request: web.Request) -> web.Response:
    return send(HealthView(status="ok"))


async def readyz(request: web.Request) -> web.Response:
    ctx = context(request)
    checks: dict[str, bool] = {}
    try:
        await ctx.store.ping()
        checks["store"] = True
    except TriageError:
        checks["store"] = False
    for name, check in ctx.readiness.items():
        checks[name] = check()
    ready = all(checks.values())
    return send(
        HealthView(status="ok" if ready else "unavailable", checks=checks), 200 if ready else 503
    )


async def metrics_page(request: web.Request) -> web.Response:
    return await metrics_response(context(request).store)


OPERATIONS = [
    Operation(
        "GET", "/healthz", healthz, "The process is up.", None, "health", response=HealthView
    ),
    Operation(
        "GET",
        "/readyz",
        readyz,
        "The store answers and the hash list is loaded (503 otherwise).",
        None,
        "health",
        response=HealthView,
        errors=(503,),
    ),
    Operation(
        "GET",
        "/metrics",
        metrics_page,
        "Prometheus metrics.",
        None,
        "health",
        response_content="text/plain",
    ),
]
