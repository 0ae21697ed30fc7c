"""The store contract for deliveries set aside: parking, listing, requeueing and settling a
referral a sink's receiver refused. Every test runs on memory, SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from tests.triage.store.backends import FakeClock
from triage.errors import Conflict, NotFound
from triage.evidence import MatchEvidence
from triage.models import ParkedState, Referral, Verdict
from triage.store import Store

MATCH = MatchEvidence(
    reference_id="ref_a",
    label="attack clip A",
    score=2.0,
    query_coverage=1.0,
    reference_coverage=1.0,
    matched_seconds=8.0,
)


async def _referrals(store: Store, count: int) -> list[Referral]:
    for n in range(count):
        outcome = await store.create_submission(url=f"https://a.example/v/{n}", key_id="k")
        await store.record_result(
            outcome.submission.media_id,
            verdict=Verdict.CONFIRMED,
            matches=[MATCH],
            query_hashes=f"Q{n}",
        )
    return await store.list_referrals()


async def test_parking_the_next_referral_moves_the_sinks_cursor_past_it(store: Store) -> None:
    first, second = await _referrals(store, 2)
    parked = await store.park_referral("webhook", first.id, error="HTTP 422", refusals=5)
    assert parked.state is ParkedState.PARKED and parked.referral == first
    assert parked.refusals == 5 and parked.last_error == "HTTP 422" and parked.sink == "webhook"
    assert await store.get_sink_cursor("webhook") == first.cursor
    assert await store.get_sink_cursor("other") == 0
    assert await store.list_referrals(after=await store.get_sink_cursor("webhook")) == [second]


async def test_parked_referrals_are_listed_in_referral_order_by_sink_and_state(
    store: Store,
) -> None:
    first, second, third = await _referrals(store, 3)
    await store.park_referral("webhook", second.id, error="HTTP 404", refusals=5)
    await store.park_referral("webhook", first.id, error="HTTP 410", refusals=5)
    await store.park_referral("stream", third.id, error="HTTP 400", refusals=5)
    listed = await store.list_parked_referrals()
    assert [(p.sink, p.referral.id) for p in listed] == [
        ("webhook", first.id),
        ("webhook", second.id),
        ("stream", third.id),
    ]
    assert [p.referral.id for p in await store.list_parked_referrals(sink="stream")] == [third.id]
    assert len(await store.list_parked_referrals(limit=1)) == 1
    assert await store.list_parked_referrals(states=[ParkedState.DELIVERED]) == []


async def test_a_requeued_referral_is_settled_once_delivered(
    store: Store, clock: FakeClock
) -> None:
    (referral,) = await _referrals(store, 1)
    parked = await store.park_referral("webhook", referral.id, error="HTTP 422", refusals=5)
    clock.advance(60)
    (requeued,) = await store.requeue_parked_referral(referral.id)
    assert requeued.state is ParkedState.REQUEUED and requeued.updated_at > parked.updated_at
    assert requeued.parked_at == parked.parked_at
    waiting = await store.list_parked_referrals(states=[ParkedState.REQUEUED])
    assert [p.referral.id for p in waiting] == [referral.id]
    settled = await store.settle_parked_referral("webhook", referral.id)
    assert settled.state is ParkedState.DELIVERED
    assert await store.list_parked_referrals() == []
    with pytest.raises(Conflict):
        await store.settle_parked_referral("webhook", referral.id)


async def test_a_requeued_referral_refused_again_is_parked_again(store: Store) -> None:
    (referral,) = await _referrals(store, 1)
    await store.park_referral("webhook", referral.id, error="HTTP 422", refusals=5)
    await store.requeue_parked_referral(referral.id)
    again = await store.park_referral("webhook", referral.id, error="HTTP 403", refusals=5)
    assert again.state is ParkedState.PARKED and again.last_error == "HTTP 403"
    assert len(await store.list_parked_referrals()) == 1


async def test_requeueing_needs_a_parked_referral(store: Store) -> None:
    (referral,) = await _referrals(store, 1)
    with pytest.raises(Conflict):
        await store.requeue_parked_referral(referral.id)
    with pytest.raises(NotFound):
        await store.requeue_parked_referral("rfl_unknown")
    with pytest.raises(NotFound):
        await store.park_referral("webhook", "rfl_unknown", error="x", refusals=1)
    with pytest.raises(NotFound):
        await store.settle_parked_referral("webhook", referral.id)
    await store.park_referral("webhook", referral.id, error="HTTP 422", refusals=5)
    await store.requeue_parked_referral(referral.id)
    with pytest.raises(Conflict):
        await store.requeue_parked_referral(referral.id)  # already requeued
