"""The Prometheus page, and the small HTTP server of a `triage worker` that serves it.

`triage serve` answers `/metrics` on its API port; a separate `triage worker` has no API, so
`--metrics-port` starts this server beside its workers: `/metrics` (the same registry, with
the store's gauges refreshed on each scrape) and `/healthz`.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from triage import metrics
from triage.errors import ConfigError, TriageError
from triage.store.protocol import Store

MAX_REVIEW_COUNT = 100_000

_STORE = web.AppKey("store", Store)


async def metrics_response(store: Store) -> web.Response:
    """The registry as Prometheus text, after refreshing the gauges that describe `store`."""
    # Without the store, the scrape still shows what this process counted.
    with contextlib.suppress(TriageError):
        review = await store.list_review_items(limit=MAX_REVIEW_COUNT)
        metrics.refresh_store_gauges(await store.queue_stats(), len(review))
    response = web.Response(body=generate_latest(REGISTRY))
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response


async def _metrics(request: web.Request) -> web.Response:
    return await metrics_response(request.app[_STORE])


async def _healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def create_metrics_app(store: Store) -> web.Application:
    app = web.Application()
    app[_STORE] = store
    app.router.add_get("/metrics", _metrics)
    app.router.add_get("/healthz", _healthz)
    return app


@contextlib.asynccontextmanager
async def serve_metrics(store: Store, host: str, port: int) -> AsyncIterator[int]:
    """Serve `create_metrics_app` on `host:port` inside the block; yields the bound port (port
    0 picks a free one). `ConfigError` if the address cannot be had."""
    runner = web.AppRunner(create_metrics_app(store), access_log=None, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as exc:
            raise ConfigError(f"cannot serve metrics on {host}:{port}: {exc.strerror}") from exc
        yield int(runner.addresses[0][1])
    finally:
        await runner.cleanup()
