"""The outbox relay: in order, at least once, resumes from the store's cursor after a restart."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from triage import metrics
from triage.errors import StoreError
from triage.evidence import MatchEvidence
from triage.models import Referral, Verdict
from triage.store import Store, open_store
from triage.store.memory import MemoryStore
from triage.store.rules import backoff_seconds
from workers.delivery.relay import DeliveryFailed, Relay, RelayTiming


@dataclass
class RecordingSink:
    """Takes referrals into a list; refuses the first `failures` offers."""

    name: str = "test-sink"
    failures: int = 0
    offered: list[str] = field(default_factory=list)
    taken: list[str] = field(default_factory=list)
    took: asyncio.Event = field(default_factory=asyncio.Event)

    async def deliver(self, referral: Referral) -> None:
        self.offered.append(referral.id)
        if self.failures > 0:
            self.failures -= 1
            raise DeliveryFailed("receiver said no")
        self.taken.append(referral.id)
        self.took.set()


async def confirm(store: Store, url: str) -> None:
    """A confirmed result for a new submission of `url` (which writes its referral)."""
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


def _count(sink: str, outcome: str) -> float:
    value: float = metrics.referral_deliveries_total.labels(sink=sink, outcome=outcome)._value.get()
    return value


def _lag(sink: str) -> float | None:
    """The lag gauge as a scrape reads it (its value is computed when read)."""
    return REGISTRY.get_sample_value("triage_referral_delivery_lag_seconds", {"sink": sink})


async def test_delivers_in_order_moves_the_cursor_and_audits() -> None:
    store = MemoryStore()
    for n in range(3):
        await confirm(store, f"https://a.example/v/{n}")
    sink = RecordingSink(name="in-order")
    assert await Relay(store, sink).deliver_pending() == 3
    referrals = await store.list_referrals()
    assert sink.taken == [r.id for r in referrals]
    assert await store.get_sink_cursor("in-order") == referrals[-1].cursor
    audit = [e for e in await store.list_audit() if e.action == "referral.delivered"]
    assert [(e.actor, e.target) for e in audit] == [("system", r.id) for r in referrals]
    assert audit[0].details["sink"] == "in-order"
    assert _count("in-order", "delivered") == 3
    assert _lag("in-order") == 0
    assert await Relay(store, sink).deliver_pending() == 0  # nothing twice


async def test_a_failure_stops_at_that_referral_and_the_next_attempt_starts_there() -> None:
    store = MemoryStore()
    await confirm(store, "https://a.example/v/1")
    await confirm(store, "https://a.example/v/2")
    sink = RecordingSink(name="stops", failures=1)
    relay = Relay(store, sink)
    with pytest.raises(DeliveryFailed):
        await relay.deliver_pending()
    first, second = await store.list_referrals()
    assert sink.offered == [first.id] and await store.get_sink_cursor("stops") == 0
    assert (_lag("stops") or 0.0) >= 0
    assert _count("stops", "failed") == 1
    assert await relay.deliver_pending() == 2
    assert sink.offered == [first.id, first.id, second.id]


async def test_a_restarted_relay_resumes_after_the_stored_cursor(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'relay.sqlite3'}"
    store = open_store(url)
    await store.migrate()
    await confirm(store, "https://a.example/v/1")
    sink = RecordingSink(name="restart")
    await Relay(store, sink).deliver_pending()
    await confirm(store, "https://a.example/v/2")
    await store.close()

    reopened = open_store(url)
    try:
        after_restart = RecordingSink(name="restart")
        assert await Relay(reopened, after_restart).deliver_pending() == 1
        referrals = await reopened.list_referrals()
        assert after_restart.taken == [referrals[1].id]
    finally:
        await reopened.close()


async def test_run_retries_with_backoff_until_delivered_then_stops() -> None:
    store = MemoryStore()
    await confirm(store, "https://a.example/v/1")
    sink = RecordingSink(name="run", failures=2)
    relay = Relay(
        store, sink, RelayTiming(poll_seconds=0.01, backoff_base_seconds=0.01, probe_seconds=0.02)
    )
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    await asyncio.wait_for(sink.took.wait(), 5)
    stop.set()
    await asyncio.wait_for(task, 5)
    (referral,) = await store.list_referrals()
    assert sink.offered == [referral.id] * 3 and sink.taken == [referral.id]


class UnreachableStore(MemoryStore):
    """Fails every read; `retried` is set once the relay has come back for a third try."""

    def __init__(self) -> None:
        super().__init__()
        self.tries = 0
        self.retried = asyncio.Event()

    async def get_sink_cursor(self, sink: str) -> int:
        self.tries += 1
        if self.tries >= 3:
            self.retried.set()
        raise StoreError("database is down")


async def test_run_survives_an_unreachable_store() -> None:
    store = UnreachableStore()
    relay = Relay(
        store,
        RecordingSink(name="down"),
        RelayTiming(poll_seconds=0.01, backoff_base_seconds=0.01, probe_seconds=0.01),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    await asyncio.wait_for(store.retried.wait(), 5)
    assert not task.done()
    stop.set()
    await asyncio.wait_for(task, 5)


@pytest.mark.parametrize(
    ("failures", "expected"),
    # A webhook down for a day passes a thousand failures: the wait stays capped, no overflow.
    [(1, 1.0), (2, 2.0), (3, 4.0), (6, 32.0), (7, 60.0), (30, 60.0), (1100, 60.0)],
)
def test_backoff_doubles_up_to_its_cap(failures: int, expected: float) -> None:
    assert backoff_seconds(failures, 1.0, 60.0) == expected


@dataclass
class BrokenSink(RecordingSink):
    """Fails every offer with a bug; `retried` is set at the second offer."""

    retried: asyncio.Event = field(default_factory=asyncio.Event)

    async def deliver(self, referral: Referral) -> None:
        self.offered.append(referral.id)
        if len(self.offered) >= 2:
            self.retried.set()
        raise ValueError("a bug in a sink")


async def test_run_survives_a_sink_bug_and_keeps_the_cursor() -> None:
    store = MemoryStore()
    await confirm(store, "https://a.example/v/1")
    sink = BrokenSink(name="broken")
    relay = Relay(
        store, sink, RelayTiming(poll_seconds=0.01, backoff_base_seconds=0.01, probe_seconds=0.01)
    )
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    await asyncio.wait_for(sink.retried.wait(), 5)
    assert not task.done()
    stop.set()
    await asyncio.wait_for(task, 5)
    assert await store.get_sink_cursor("broken") == 0
