"""The relay under a failing receiver: backoff that starts over, probing while it is down,
parking what it refuses, and a lag gauge that keeps rising while nothing gets through."""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, field

import pytest

from tests.triage.store.backends import FakeClock
from tests.workers.delivery.test_relay import confirm
from triage.models import ParkedState, Referral
from triage.store.memory import MemoryStore
from workers.delivery.relay import DeliveryFailed, Relay, RelayTiming

DEFAULTS = RelayTiming()


def p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[math.ceil(0.9 * len(ordered)) - 1]


@dataclass
class FlakyReceiver:
    """Fails every `fail_every`-th offer (shifted by `phase`), and every offer while `down`
    is set (unreachable, no answer)."""

    clock: FakeClock
    phase: int = 0
    fail_every: int = 5
    down: bool = False
    offers: int = 0
    taken: list[tuple[Referral, float]] = field(default_factory=list)
    name: str = "flaky"

    async def deliver(self, referral: Referral) -> None:
        self.offers += 1
        if self.down:
            raise DeliveryFailed("connection refused")
        if (self.offers + self.phase) % self.fail_every == 0:
            raise DeliveryFailed("HTTP 503", answered=True)
        self.taken.append((referral, self.clock().timestamp()))


@dataclass
class Scenario:
    """Time moves only while the relay waits: a referral every second until the outage
    ends, the receiver flaky for `flaky_seconds`, then down for `outage_seconds`, then up
    until it has taken everything."""

    store: MemoryStore
    clock: FakeClock
    receiver: FlakyReceiver
    flaky_seconds: int = 300
    outage_seconds: int = 60
    created: int = 0
    lag_during_outage: list[float] = field(default_factory=list)
    relay: Relay | None = None

    def __post_init__(self) -> None:
        self.start = self.clock()

    @property
    def outage_start(self) -> int:
        return self.flaky_seconds

    @property
    def outage_end(self) -> int:
        return self.flaky_seconds + self.outage_seconds

    def seconds(self) -> float:
        return (self.clock() - self.start).total_seconds()

    async def wait(self, stop: asyncio.Event, seconds: float) -> None:
        remaining = seconds
        while remaining > 0 and not stop.is_set():
            step = min(1.0, remaining)
            self.clock.advance(step)
            remaining -= step
            await self._tick(stop)

    async def _tick(self, stop: asyncio.Event) -> None:
        while self.created < self.outage_end and self.created <= self.seconds():
            await confirm(self.store, f"https://a.example/v/{self.created}")
            self.created += 1
        now = self.seconds()
        self.receiver.down = self.outage_start <= now < self.outage_end
        if self.receiver.down and self.relay is not None:
            self.lag_during_outage.append(self.relay.lag_seconds())
        if now >= self.outage_end and len(self.receiver.taken) == self.outage_end:
            stop.set()


async def _run_scenario(timing: RelayTiming, phase: int = 0) -> Scenario:
    clock = FakeClock()
    store = MemoryStore(clock=clock)
    receiver = FlakyReceiver(clock, phase)
    scenario = Scenario(store, clock, receiver)
    relay = Relay(store, receiver, timing, clock=clock, wait=scenario.wait)
    scenario.relay = relay
    await asyncio.wait_for(relay.run(asyncio.Event()), 60)
    return scenario


@pytest.mark.parametrize("phase", range(5))  # which offer fails: after the outage too
async def test_at_default_settings_a_flaky_then_absent_receiver_gets_all_in_time(
    phase: int,
) -> None:
    scenario = await _run_scenario(DEFAULTS, phase)
    referrals = await scenario.store.list_referrals(limit=1000)
    taken = scenario.receiver.taken
    assert len(referrals) == scenario.outage_end
    assert [r.id for r, _ in taken] == [r.id for r in referrals]  # every one, in order
    start = scenario.start.timestamp()
    flaky_lags = [
        at - r.created_at.timestamp()
        for r, at in taken
        if r.created_at.timestamp() - start < scenario.outage_start
    ]
    assert p90(flaky_lags) <= 15.0
    first_after = min(at - start for _, at in taken if at - start >= scenario.outage_end)
    assert first_after - scenario.outage_end <= 10.0
    rising = scenario.lag_during_outage
    assert rising == sorted(rising) and rising[-1] >= scenario.outage_seconds - 2


def test_the_wait_between_attempts_never_exceeds_the_probe_interval() -> None:
    waits = [DEFAULTS.retry_wait_seconds(failures) for failures in range(1, 2000)]
    assert max(waits) == DEFAULTS.probe_seconds == 8.0
    assert waits[:4] == [1.0, 2.0, 4.0, 8.0]


@dataclass
class RefusingSink:
    """Refuses (HTTP 4xx) the referrals whose URL is in `refuse`; takes the others."""

    refuse: set[str]
    name: str = "refusing"
    taken: list[str] = field(default_factory=list)

    async def deliver(self, referral: Referral) -> None:
        if referral.url in self.refuse:
            raise DeliveryFailed("HTTP 422", refused=True)
        self.taken.append(referral.id)


async def _deliver_until_quiet(relay: Relay, attempts: int = 10) -> None:
    for _ in range(attempts):
        try:
            await relay.deliver_pending()
            return
        except DeliveryFailed:
            continue
    raise AssertionError("the relay never got through")


async def test_a_referral_refused_five_times_is_parked_and_the_others_go_on() -> None:
    store = MemoryStore()
    for n in range(3):
        await confirm(store, f"https://a.example/v/{n}")
    first, refused, last = await store.list_referrals()
    sink = RefusingSink(refuse={"https://a.example/v/1"})
    relay = Relay(store, sink)
    for _ in range(DEFAULTS.park_after_refusals - 1):
        with pytest.raises(DeliveryFailed):
            await relay.deliver_pending()
    assert sink.taken == [first.id]  # held up behind the refused one until it is parked
    await relay.deliver_pending()
    assert sink.taken == [first.id, last.id]
    (parked,) = await store.list_parked_referrals()
    assert parked.referral.id == refused.id and parked.state is ParkedState.PARKED
    assert parked.refusals == DEFAULTS.park_after_refusals and "HTTP 422" in parked.last_error
    audit = [e for e in await store.list_audit() if e.action == "referral.parked"]
    assert [e.target for e in audit] == [refused.id]


async def test_a_requeued_referral_is_offered_before_newer_ones_and_settled() -> None:
    store = MemoryStore()
    await confirm(store, "https://a.example/v/0")
    sink = RefusingSink(refuse={"https://a.example/v/0"})
    relay = Relay(store, sink, RelayTiming(park_after_refusals=1))
    await relay.deliver_pending()
    (referral,) = await store.list_referrals()
    await store.requeue_parked_referral(referral.id)
    await confirm(store, "https://a.example/v/1")
    sink.refuse.clear()
    await _deliver_until_quiet(relay)
    newer = (await store.list_referrals())[1]
    assert sink.taken == [referral.id, newer.id]
    (settled,) = await store.list_parked_referrals(states=[ParkedState.DELIVERED])
    assert settled.referral.id == referral.id
    assert await store.list_parked_referrals() == []


async def test_a_requeued_referral_refused_again_is_parked_again() -> None:
    store = MemoryStore()
    await confirm(store, "https://a.example/v/0")
    sink = RefusingSink(refuse={"https://a.example/v/0"})
    relay = Relay(store, sink, RelayTiming(park_after_refusals=1))
    await relay.deliver_pending()
    (referral,) = await store.list_referrals()
    await store.requeue_parked_referral(referral.id)
    await relay.deliver_pending()
    (parked,) = await store.list_parked_referrals()
    assert parked.state is ParkedState.PARKED and sink.taken == []


async def test_the_lag_counts_a_requeued_referral_until_it_is_delivered() -> None:
    clock = FakeClock()
    store = MemoryStore(clock=clock)
    await confirm(store, "https://a.example/v/0")
    sink = RefusingSink(refuse={"https://a.example/v/0"})
    await Relay(store, sink, RelayTiming(park_after_refusals=1), clock=clock).deliver_pending()
    (referral,) = await store.list_referrals()
    relay = Relay(store, sink, RelayTiming(park_after_refusals=2), clock=clock)
    await relay.deliver_pending()
    assert relay.lag_seconds() == 0.0  # parked: not waiting on the receiver
    await store.requeue_parked_referral(referral.id)
    clock.advance(30)
    with pytest.raises(DeliveryFailed):
        await relay.deliver_pending()
    assert relay.lag_seconds() == 30.0
