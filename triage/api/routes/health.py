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
    reasons: dict[str, str] = {}
    try:
        await ctx.store.ping()
        checks["store"] = True
    except TriageError as exc:
        checks["store"] = False
        reasons["store"] = str(exc)
    for name, check in ctx.readiness.items():
        problem = check()
        checks[name] = problem is None
        if problem is not None:
            reasons[name] = problem
    ready = all(checks.values())
    view = HealthView(status="ok" if ready else "unavailable", checks=checks, reasons=reasons)
    return send(view, 200 if ready else 503)


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
        "The store answers, the hash list is loaded, the webhook destination is permitted "
        "and data_dir has its minimum free space (503 otherwise, with the reasons).",
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
