"""The webhook sink against a loopback receiver: signed JSON, 2xx only, the address guard."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web

from tests.workers.delivery.test_relay import confirm
from triage.errors import ConfigError
from triage.models import Referral
from triage.store.memory import MemoryStore
from workers.delivery.relay import DeliveryFailed, RelayTiming
from workers.delivery.webhook import SINK, WebhookRelay, WebhookSink, referral_body, sign
from workers.fetch.types import FetchLimits

SECRET = "s3cret"


@dataclass
class Receiver:
    """Records each request; answers `statuses` in turn, then 204."""

    statuses: list[int] = field(default_factory=list)
    delay_seconds: float = 0.0
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    port: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append((dict(request.headers), await request.read()))
        await asyncio.sleep(self.delay_seconds)
        status = self.statuses.pop(0) if self.statuses else 204
        headers = {"Location": "/elsewhere"} if 300 <= status < 400 else None
        return web.Response(status=status, headers=headers)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def event_ids(self) -> list[str]:
        return [headers["X-Triage-Event-Id"] for headers, _ in self.received]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    made = Receiver()
    app = web.Application()
    app.router.add_post("/hook", made.handle)
    app.router.add_post("/elsewhere", made.handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    made.port = int(runner.addresses[0][1])
    yield made
    await runner.cleanup()


def _limits(receiver: Receiver, *, allowed: bool = True) -> FetchLimits:
    allow = frozenset({f"127.0.0.1:{receiver.port}"}) if allowed else frozenset()
    return FetchLimits(allow_hosts=allow, timeout_seconds=5)


async def _referral(url: str = "https://a.example/v/1") -> Referral:
    store = MemoryStore()
    await confirm(store, url)
    (referral,) = await store.list_referrals()
    return referral


async def test_a_delivery_is_signed_json_with_the_referral_id(receiver: Receiver) -> None:
    referral = await _referral()
    async with WebhookSink(receiver.url, SECRET, _limits(receiver)) as sink:
        await sink.deliver(referral)
    ((headers, body),) = receiver.received
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Triage-Event-Id"] == referral.id
    timestamp = headers["X-Triage-Timestamp"]
    expected = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    assert headers["X-Triage-Signature"] == f"sha256={expected.hexdigest()}"
    payload = json.loads(body)
    assert payload["type"] == "referral" and payload["id"] == referral.id
    assert payload["url"] == "https://a.example/v/1" and payload["host"] == "a.example"
    assert payload["reference_id"] == "ref-1" and payload["label"] == "attack"
    assert payload["evidence"]["score"] == 3.0
    assert body == referral_body(referral)  # the same bytes on a redelivery


def test_the_signature_covers_timestamp_and_body() -> None:
    assert sign(SECRET, "1", b"{}") != sign(SECRET, "2", b"{}")
    assert sign(SECRET, "1", b"{}") != sign(SECRET, "1", b"{ }")
    assert sign(SECRET, "1", b"{}") != sign("other", "1", b"{}")


@pytest.mark.parametrize("status", [500, 503, 400, 404, 307])
async def test_anything_but_2xx_is_a_failure(receiver: Receiver, status: int) -> None:
    receiver.statuses = [status]
    async with WebhookSink(receiver.url, SECRET, _limits(receiver)) as sink:
        with pytest.raises(DeliveryFailed, match=f"HTTP {status}"):
            await sink.deliver(await _referral())
    assert len(receiver.received) == 1  # a redirect is not followed


async def test_a_slow_receiver_is_a_failure(receiver: Receiver) -> None:
    receiver.delay_seconds = 2.0
    sink = WebhookSink(receiver.url, SECRET, _limits(receiver), timeout_seconds=0.2)
    async with sink:
        with pytest.raises(DeliveryFailed, match="unreachable"):
            await sink.deliver(await _referral())


async def test_a_receiver_outside_the_allow_list_is_never_reached(receiver: Receiver) -> None:
    async with WebhookSink(receiver.url, SECRET, _limits(receiver, allowed=False)) as sink:
        with pytest.raises(DeliveryFailed, match="refused by the address guard"):
            await sink.deliver(await _referral())
        assert sink.destination_problem is not None
        assert "fetch.allow_hosts" in sink.destination_problem
    assert receiver.received == []


async def test_the_destination_check_names_a_refused_address_and_passes_an_allowed_one(
    receiver: Receiver,
) -> None:
    refused = WebhookSink(receiver.url, SECRET, _limits(receiver, allowed=False))
    problem = await refused.check_destination()
    assert problem is not None and "loopback" in problem and "referrals.webhook_url" in problem
    allowed = WebhookSink(receiver.url, SECRET, _limits(receiver))
    assert await allowed.check_destination() is None


async def test_a_relay_to_a_refused_destination_sends_nothing_and_says_why(
    receiver: Receiver,
) -> None:
    store = MemoryStore()
    await confirm(store, "https://a.example/v/1")
    checked = asyncio.Event()
    stop = asyncio.Event()

    async def wait(stop: asyncio.Event, seconds: float) -> None:
        checked.set()  # the relay waits only after a check found the destination refused
        await asyncio.sleep(0)

    relay = WebhookRelay(
        store,
        receiver.url,
        SECRET,
        _limits(receiver, allowed=False),
        RelayTiming(probe_seconds=0.01),
        wait=wait,
    )
    task = asyncio.create_task(relay.run(stop))
    await asyncio.wait_for(checked.wait(), 5)
    assert relay.problem is not None and "refused by the address guard" in relay.problem
    stop.set()
    await asyncio.wait_for(task, 5)
    assert receiver.received == []
    assert await store.get_sink_cursor(SINK) == 0


@pytest.mark.parametrize(
    ("status", "refused"), [(400, True), (404, True), (410, True), (408, False), (429, False)]
)
async def test_a_4xx_is_a_refusal_except_the_ones_that_mean_later(
    receiver: Receiver, status: int, refused: bool
) -> None:
    receiver.statuses = [status]
    async with WebhookSink(receiver.url, SECRET, _limits(receiver)) as sink:
        with pytest.raises(DeliveryFailed) as failed:
            await sink.deliver(await _referral())
    assert failed.value.refused is refused


async def test_a_server_error_is_not_a_refusal(receiver: Receiver) -> None:
    receiver.statuses = [503]
    async with WebhookSink(receiver.url, SECRET, _limits(receiver)) as sink:
        with pytest.raises(DeliveryFailed) as failed:
            await sink.deliver(await _referral())
    assert failed.value.refused is False


async def test_the_relay_redelivers_with_the_same_event_id_until_taken(
    receiver: Receiver,
) -> None:
    receiver.statuses = [503, 503]
    store = MemoryStore()
    await confirm(store, "https://a.example/v/1")
    await confirm(store, "https://b.example/v/2")
    await confirm(store, "https://a.example/v/1")  # the same URL is referred once
    relay = WebhookRelay(
        store,
        receiver.url,
        SECRET,
        _limits(receiver),
        RelayTiming(poll_seconds=0.05, backoff_base_seconds=0.05, probe_seconds=0.1),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    first, second = await store.list_referrals()
    for _ in range(200):
        if await store.get_sink_cursor(SINK) == second.cursor:
            break
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert receiver.event_ids() == [first.id, first.id, first.id, second.id]


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/hook", "not a url", "http:///hook"])
def test_a_bad_webhook_url_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError, match=r"referrals\.webhook_url"):
        WebhookSink(url, SECRET, FetchLimits())


async def test_a_delivery_ties_back_to_the_report_and_keeps_its_note_unless_shared(
    receiver: Receiver,
) -> None:
    referral = (await _referral()).model_copy(
        update={"submission_id": "sub_1", "external_id": "case-1", "note": "colleagues only"}
    )
    async with WebhookSink(receiver.url, SECRET, _limits(receiver)) as sink:
        await sink.deliver(referral)
    async with WebhookSink(receiver.url, SECRET, _limits(receiver), share_notes=True) as sink:
        await sink.deliver(referral)
    private, shared = (json.loads(body) for _, body in receiver.received)
    assert (private["submission_id"], private["external_id"]) == ("sub_1", "case-1")
    assert private["note"] is None
    assert shared["note"] == "colleagues only"
