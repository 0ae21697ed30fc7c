"""The contract of `Outbox`, the outbox: referrals written with confirmed verdicts, sink cursors,
the match feed, and deliveries a sink parked, requeued and settled.

Every test runs on memory, SQLite and PostgreSQL (the `store` fixture)."""

from __future__ import annotations

import pytest

from tests.triage.store.backends import FakeClock
from tests.triage.store.scenarios import (
    match_evidence,
    process,
    submit,
    work_to_verdict,
)
from triage.errors import Conflict, NotFound
from triage.models import (
    ParkedState,
    Referral,
    Verdict,
)
from triage.store import Store
from triage.store.protocols import Outbox


async def test_confirmed_verdict_writes_one_referral_with_its_evidence(
    store: Store, clock: FakeClock
) -> None:
    outcome = await process(
        store, clock, url="https://www.Example.com/v/1", sha256="a" * 64, verdict=Verdict.CONFIRMED
    )
    await store.create_submission(url="https://www.Example.com/v/1", key_id="other")
    [referral] = await store.list_referrals()
    assert referral.media_id == outcome.submission.media_id
    assert (referral.url, referral.host, referral.sha256) == (
        "https://www.Example.com/v/1",
        "www.example.com",
        "a" * 64,
    )
    assert (referral.reference_id, referral.label) == ("ref_a", "label of ref_a")
    assert referral.evidence == match_evidence()
    assert referral.id.startswith("rfl_") and referral.cursor > 0


async def test_no_referral_for_review_or_none(store: Store, clock: FakeClock) -> None:
    await process(store, clock, url="https://a.example/1", sha256="a" * 64, verdict=Verdict.REVIEW)
    await process(
        store, clock, url="https://a.example/2", sha256="b" * 64, verdict=Verdict.NONE, matches=[]
    )
    assert await store.list_referrals() == []


async def test_same_content_through_another_url_is_referred_too(
    store: Store, clock: FakeClock
) -> None:
    await process(
        store, clock, url="https://a.example/1", sha256="a" * 64, verdict=Verdict.CONFIRMED
    )
    await process(
        store, clock, url="https://b.example/mirror", sha256="a" * 64, verdict=Verdict.CONFIRMED
    )
    referred = [r.url for r in await store.list_referrals()]
    assert referred == ["https://a.example/1", "https://b.example/mirror"]


async def test_upload_without_url_is_referred_by_its_content(
    store: Store, clock: FakeClock
) -> None:
    await process(store, clock, url=None, sha256="c" * 64, verdict=Verdict.CONFIRMED)
    [referral] = await store.list_referrals()
    assert (referral.url, referral.host, referral.sha256) == (None, None, "c" * 64)


async def test_referrals_page_by_cursor_and_filter_by_host(store: Store, clock: FakeClock) -> None:
    urls = [
        "https://example.com/1",
        "https://m.example.com/2",
        "https://notexample.com/3",
        "https://other.org/4",
    ]
    for n, url in enumerate(urls):
        await process(store, clock, url=url, sha256=f"{n}" * 64, verdict=Verdict.CONFIRMED)
    first_page = await store.list_referrals(limit=2)
    second_page = await store.list_referrals(after=first_page[-1].cursor, limit=2)
    assert [r.url for r in first_page + second_page] == urls
    assert await store.list_referrals(after=second_page[-1].cursor) == []
    scoped = await store.list_referrals(hosts=["Example.com"])
    assert [r.url for r in scoped] == urls[:2]


async def test_sink_cursor_only_moves_forward(store: Outbox) -> None:
    assert await store.get_sink_cursor("webhook") == 0
    assert await store.set_sink_cursor("webhook", 5) == 5
    assert await store.set_sink_cursor("webhook", 3) == 5
    assert await store.get_sink_cursor("webhook") == 5
    assert await store.get_sink_cursor("stream") == 0


async def test_match_feed_filters_and_moves_updated_results_to_the_end(
    store: Store, clock: FakeClock
) -> None:
    one = await process(
        store, clock, url="https://a.example/1", sha256="1" * 64, verdict=Verdict.CONFIRMED
    )
    await process(
        store,
        clock,
        url="https://b.example/2",
        sha256="2" * 64,
        verdict=Verdict.REVIEW,
        matches=[match_evidence("ref_b", 0.7)],
    )
    feed = await store.list_matches()
    assert [m.url for m in feed] == ["https://a.example/1", "https://b.example/2"]
    assert feed[0].matches == (match_evidence(),) and feed[0].sha256 == "1" * 64
    assert [m.verdict for m in await store.list_matches(verdicts=[Verdict.REVIEW])] == [
        Verdict.REVIEW
    ]
    by_reference = await store.list_matches(reference_id="ref_b")
    assert [m.url for m in by_reference] == ["https://b.example/2"]
    assert [m.url for m in await store.list_matches(hosts=["a.example"])] == ["https://a.example/1"]

    # A retro-match records a new result for the first media: it moves to the end.
    await store.record_result(
        one.submission.media_id,
        verdict=Verdict.CONFIRMED,
        matches=[match_evidence(), match_evidence("ref_c", 1.5)],
        query_hashes="Q",
    )
    after = await store.list_matches(after=feed[-1].cursor)
    assert [m.media_id for m in after] == [one.submission.media_id]
    assert [m.url for m in await store.list_matches(reference_id="ref_c")] == [
        "https://a.example/1"
    ]


async def _referrals(store: Store, count: int) -> list[Referral]:
    for n in range(count):
        outcome = await store.create_submission(url=f"https://a.example/v/{n}", key_id="k")
        await store.record_result(
            outcome.submission.media_id,
            verdict=Verdict.CONFIRMED,
            matches=[match_evidence()],
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


async def test_referral_and_match_carry_the_first_submission(
    store: Store, clock: FakeClock
) -> None:
    first = await submit(
        store, clock, "https://a.example/1", external_id="case-1", note="seen in a group"
    )
    await submit(store, clock, "https://a.example/1", key_id="other", external_id="case-9")
    await work_to_verdict(store, clock, first, Verdict.CONFIRMED)
    [referral] = await store.list_referrals()
    assert (referral.submission_id, referral.external_id, referral.note) == (
        first.submission.id,
        "case-1",
        "seen in a group",
    )
    [record] = await store.list_matches()
    assert (record.submission_id, record.external_id, record.note) == (
        first.submission.id,
        "case-1",
        "seen in a group",
    )
