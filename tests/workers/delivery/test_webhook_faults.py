"""A real webhook relay against a loopback receiver that fails one delivery in five and then
goes away: every referral arrives, in order, within the promised delays.

Intervals are scaled down by `SCALE` (an outage of 6 s stands for the minute, and the relay
probes every 0.6 s, so its worst case of 0.7 s after a return leaves room for a loaded test
machine under the 1 s bound), so the bounds are scaled too; the fake-clock test in
`test_relay_faults` proves them at default settings.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from prometheus_client import REGISTRY

from tests.workers.delivery.test_relay import confirm
from triage.store.memory import MemoryStore
from workers.delivery.relay import RelayTiming
from workers.delivery.webhook import SINK, WebhookRelay
from workers.fetch.types import FetchLimits

SCALE = 10.0  # real seconds per test second
TIMING = RelayTiming(
    poll_seconds=1.0 / SCALE, backoff_base_seconds=1.0 / SCALE, probe_seconds=6.0 / SCALE
)
P90_BOUND_SECONDS = 15.0 / SCALE
RETURN_BOUND_SECONDS = 10.0 / SCALE


@dataclass
class FlakyReceiver:
    """Answers 503 to every fifth request, 204 to the others; records what it took."""

    fail_every: int = 5
    requests: int = 0
    taken: list[tuple[str, float]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        await request.read()
        self.requests += 1
        if self.requests % self.fail_every == 0:
            return web.Response(status=503)
        self.taken.append((request.headers["X-Triage-Event-Id"], time.time()))
        return web.Response(status=204)


@dataclass
class Server:
    receiver: FlakyReceiver
    runner: web.AppRunner
    port: int
    site: web.TCPSite | None = None

    async def start(self) -> None:
        self.site = web.TCPSite(self.runner, "127.0.0.1", self.port)
        await self.site.start()

    async def go_away(self) -> None:
        if self.site is not None:
            await self.site.stop()
            self.site = None


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    receiver = FlakyReceiver()
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    first = web.TCPSite(runner, "127.0.0.1", 0)
    await first.start()
    made = Server(receiver, runner, int(runner.addresses[0][1]), first)
    yield made
    await runner.cleanup()


def _lag_gauge() -> float:
    value = REGISTRY.get_sample_value("triage_referral_delivery_lag_seconds", {"sink": SINK})
    return value if value is not None else -1.0


def p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[math.ceil(0.9 * len(ordered)) - 1]


@pytest.mark.parametrize("outage_seconds", [60.0 / SCALE])
async def test_a_flaky_then_absent_receiver_gets_every_referral_in_order_and_in_time(
    server: Server, outage_seconds: float
) -> None:
    store = MemoryStore()
    limits = FetchLimits(allow_hosts=frozenset({f"127.0.0.1:{server.port}"}), timeout_seconds=5)
    relay = WebhookRelay(store, f"http://127.0.0.1:{server.port}/hook", "s3cret", limits, TIMING)
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    created = 0

    async def refer_for(seconds: float) -> None:
        nonlocal created
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            await confirm(store, f"https://a.example/v/{created}")
            created += 1
            await asyncio.sleep(1.0 / SCALE)

    try:
        await refer_for(30.0 / SCALE)  # the flaky part: half a minute, scaled
        flaky_count = created
        await server.go_away()
        gauge: list[float] = []
        outage_end = time.monotonic() + outage_seconds
        while time.monotonic() < outage_end:
            await refer_for(min(1.0, outage_end - time.monotonic()))
            gauge.append(_lag_gauge())
        await server.start()
        returned_at = time.time()
        for _ in range(400):
            if len(server.receiver.taken) == created:
                break
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(task, 5)

    referrals = await store.list_referrals(limit=1000)
    assert [event_id for event_id, _ in server.receiver.taken] == [r.id for r in referrals]
    by_id = {r.id: r.created_at.timestamp() for r in referrals}
    taken = server.receiver.taken
    flaky_lags = [at - by_id[event_id] for event_id, at in taken[:flaky_count]]
    assert p90(flaky_lags) <= P90_BOUND_SECONDS
    first_after = min(at for _, at in taken if at >= returned_at)
    assert first_after - returned_at <= RETURN_BOUND_SECONDS
    assert gauge == sorted(gauge) and gauge[-1] >= 0.8 * outage_seconds
