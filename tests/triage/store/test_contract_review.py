"""The store contract for review: a review verdict opens one item; a confirm makes the referral,
a reject suppresses the same content afterwards; an item is decided once. Every test runs on
memory, SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from tests.triage.store.backends import FakeClock
from tests.triage.store.results import match_evidence, process_media
from triage.errors import Conflict, NotFound
from triage.models import ReviewDecision, ReviewState, Verdict, text_sha256
from triage.store import Store


async def test_review_verdict_opens_one_item_oldest_first(store: Store, clock: FakeClock) -> None:
    first = await process_media(
        store, clock, url="https://a.example/1", sha256="1" * 64, verdict=Verdict.REVIEW
    )
    await process_media(
        store, clock, url="https://a.example/2", sha256="2" * 64, verdict=Verdict.REVIEW
    )
    await store.record_result(
        first.submission.media_id,
        verdict=Verdict.REVIEW,
        matches=[match_evidence()],
        query_hashes="Q",
    )
    items = await store.list_review_items()
    assert [i.url for i in items] == ["https://a.example/1", "https://a.example/2"]
    assert items[0].state is ReviewState.OPEN
    assert (items[0].reference_id, items[0].label, items[0].score) == (
        "ref_a",
        "label of ref_a",
        2.0,
    )
    assert await store.get_review_item(items[0].id) == items[0]


async def test_review_confirm_makes_the_referral(store: Store, clock: FakeClock) -> None:
    outcome = await process_media(
        store, clock, url="https://a.example/1", sha256="1" * 64, verdict=Verdict.REVIEW
    )
    [item] = await store.list_review_items()
    decided = await store.decide_review(
        item.id, ReviewDecision.CONFIRM, decided_by="key_mod", note="same footage"
    )
    assert (decided.state, decided.decided_by, decided.note) == (
        ReviewState.CONFIRMED,
        "key_mod",
        "same footage",
    )
    assert decided.decided_at == clock.now
    assert [r.url for r in await store.list_referrals()] == ["https://a.example/1"]
    detail = await store.get_submission(outcome.submission.id)
    assert detail.result is not None and detail.result.verdict is Verdict.CONFIRMED
    assert await store.list_review_items() == []
    assert [i.id for i in await store.list_review_items(states=[ReviewState.CONFIRMED])] == [
        item.id
    ]
    [entry] = await store.list_audit()
    assert (entry.actor, entry.action, entry.target) == ("key_mod", "review.confirm", item.id)


async def test_review_reject_suppresses_the_same_content_afterwards(
    store: Store, clock: FakeClock
) -> None:
    outcome = await process_media(
        store,
        clock,
        url="https://news.example/report",
        sha256="1" * 64,
        verdict=Verdict.REVIEW,
        query_hashes="QH",
    )
    [item] = await store.list_review_items()
    await store.decide_review(item.id, ReviewDecision.REJECT, decided_by="key_mod")
    detail = await store.get_submission(outcome.submission.id)
    assert detail.result is not None
    assert (detail.result.verdict, detail.result.suppressed) == (Verdict.NONE, True)
    [suppression] = await store.list_suppressions()
    assert (suppression.sha256, suppression.query_hashes_sha256) == ("1" * 64, text_sha256("QH"))

    # The same bytes under a new URL, and new bytes with the same query hashes: both quiet.
    again = await process_media(
        store, clock, url="https://news.example/copy", sha256="1" * 64, verdict=Verdict.REVIEW
    )
    reencoded = await process_media(
        store,
        clock,
        url="https://news.example/reencoded",
        sha256="2" * 64,
        verdict=Verdict.CONFIRMED,
        query_hashes="QH",
    )
    assert (await store.get_submission(again.submission.id)).status.value == "done"
    result = await store.get_result(reencoded.submission.media_id)
    assert result is not None and result.suppressed
    assert await store.list_review_items() == []
    assert await store.list_referrals() == []


async def test_review_decided_twice_conflicts(store: Store, clock: FakeClock) -> None:
    await process_media(
        store, clock, url="https://a.example/1", sha256="1" * 64, verdict=Verdict.REVIEW
    )
    [item] = await store.list_review_items()
    await store.decide_review(item.id, ReviewDecision.REJECT, decided_by="k")
    with pytest.raises(Conflict):
        await store.decide_review(item.id, ReviewDecision.CONFIRM, decided_by="k")
    with pytest.raises(NotFound):
        await store.decide_review("rev_missing", ReviewDecision.CONFIRM, decided_by="k")
