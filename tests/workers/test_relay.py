"""Webhook delivery: signed, in order, at least once, the same event id on a redelivery."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from prometheus_client import REGISTRY

from triage.models import MatchEvidence, Verdict
from triage.store.memory import MemoryStore
from workers.fetch_types import FetchLimits
from workers.relay import SINK, WebhookRelay, sign

SECRET = "s3cret"


@dataclass
class Receiver:
    """A loopback webhook receiver that fails its first `failures` requests."""

    failures: int
    received: list[tuple[str, str, bytes, str]] = field(default_factory=list)
    port: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = request.headers
        self.received.append(
            (
                headers["X-Triage-Event-Id"],
                headers["X-Triage-Timestamp"],
                body,
                headers["X-Triage-Signature"],
            )
        )
        if self.failures > 0:
            self.failures -= 1
            return web.Response(status=503)
        return web.Response(status=204)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    made = Receiver(failures=2)
    app = web.Application()
    app.router.add_post("/hook", made.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    made.port = int(runner.addresses[0][1])
    yield made
    await runner.cleanup()


async def _confirm(store: MemoryStore, url: str) -> None:
    outcome = await store.create_submission(url=url, key_id="key_x")
    evidence = MatchEvidence(
        reference_id="ref-1",
        label="attack",
        score=3.0,
        query_coverage=1.0,
        reference_coverage=1.0,
        matched_seconds=5.0,
    )
    await store.record_result(
        outcome.submission.media_id,
        verdict=Verdict.CONFIRMED,
        matches=[evidence],
        query_hashes=f'{{"q": "{url}"}}',
    )


def _delivered() -> float:
    labels = {"sink": SINK, "outcome": "delivered"}
    return REGISTRY.get_sample_value("triage_referral_deliveries_total", labels) or 0.0


def _relay(store: MemoryStore, port: int, allow: bool = True) -> WebhookRelay:
    limits = FetchLimits(
        allow_hosts=frozenset({f"127.0.0.1:{port}"} if allow else set()), timeout_seconds=5
    )
    return WebhookRelay(
        store,
        f"http://127.0.0.1:{port}/hook",
        SECRET,
        limits,
        poll_seconds=0.05,
        backoff_base_seconds=0.05,
        backoff_max_seconds=0.1,
    )


async def _run_until_delivered(store: MemoryStore, relay: WebhookRelay, count: int) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    try:
        for _ in range(200):
            referrals = await store.list_referrals()
            if referrals and await store.get_sink_cursor(SINK) >= referrals[-1].cursor:
                break
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
    assert len(await store.list_referrals()) == count


async def test_each_referral_is_delivered_signed_and_retried_with_its_event_id(
    receiver: Receiver,
) -> None:
    store = MemoryStore()
    await _confirm(store, "https://a.example/v/1")
    await _confirm(store, "https://b.example/v/2")
    await _confirm(store, "https://a.example/v/1")  # the same URL is referred once
    before = _delivered()
    await _run_until_delivered(store, _relay(store, receiver.port), count=2)
    referrals = await store.list_referrals()
    ids = [event_id for event_id, *_ in receiver.received]
    # Two failures on the first, then each once: the retries carry the same event id.
    assert ids == [referrals[0].id] * 3 + [referrals[1].id]
    for _, timestamp, body, signature in receiver.received:
        expected = hmac.new(
            SECRET.encode(), timestamp.encode() + b"." + body, hashlib.sha256
        ).hexdigest()
        assert signature == f"sha256={expected}" == sign(SECRET, timestamp, body)
    payload = json.loads(receiver.received[-1][2])
    assert payload["url"] == "https://b.example/v/2" and payload["label"] == "attack"
    assert _delivered() - before == 2
    audit = [e for e in await store.list_audit() if e.action == "referral.delivered"]
    assert [e.target for e in audit] == [r.id for r in referrals]


async def test_receiver_outside_the_allow_list_is_never_reached(receiver: Receiver) -> None:
    store = MemoryStore()
    await _confirm(store, "https://a.example/v/1")
    stop = asyncio.Event()
    task = asyncio.create_task(_relay(store, receiver.port, allow=False).run(stop))
    await asyncio.sleep(0.3)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert receiver.received == []
    assert await store.get_sink_cursor(SINK) == 0
