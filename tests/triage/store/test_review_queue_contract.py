"""The contract of `ReviewQueue`, the review queue: items opened by review verdicts, their order,
reviewers' claims, decisions and the suppressions a rejection leaves.

Every test runs on memory, SQLite and PostgreSQL (the `store` fixture)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.triage.store.backends import FakeClock
from tests.triage.store.scenarios import (
    match_evidence,
    open_review_item,
    process,
    submit,
    work_to_verdict,
)
from triage.errors import Conflict, NotFound
from triage.models import (
    ReviewDecision,
    ReviewState,
    Verdict,
    text_sha256,
)
from triage.store import Store


async def test_review_verdict_opens_one_item_oldest_first(store: Store, clock: FakeClock) -> None:
    first = await process(
        store, clock, url="https://a.example/1", sha256="1" * 64, verdict=Verdict.REVIEW
    )
    await process(store, clock, url="https://a.example/2", sha256="2" * 64, verdict=Verdict.REVIEW)
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
    outcome = await process(
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
    outcome = await process(
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
    again = await process(
        store, clock, url="https://news.example/copy", sha256="1" * 64, verdict=Verdict.REVIEW
    )
    reencoded = await process(
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
    await process(store, clock, url="https://a.example/1", sha256="1" * 64, verdict=Verdict.REVIEW)
    [item] = await store.list_review_items()
    await store.decide_review(item.id, ReviewDecision.REJECT, decided_by="k")
    with pytest.raises(Conflict):
        await store.decide_review(item.id, ReviewDecision.CONFIRM, decided_by="k")
    with pytest.raises(NotFound):
        await store.decide_review("rev_missing", ReviewDecision.CONFIRM, decided_by="k")


async def test_review_item_carries_the_first_submission(store: Store, clock: FakeClock) -> None:
    first = await submit(store, clock, "https://a.example/1", external_id="case-1", note="n")
    await work_to_verdict(store, clock, first, Verdict.REVIEW, score=0.7)
    [listed] = await store.list_review_items()
    item = await store.get_review_item(listed.id)
    for seen in (listed, item):
        assert (seen.submission_id, seen.external_id, seen.submission_note) == (
            first.submission.id,
            "case-1",
            "n",
        )


async def test_review_queue_by_priority_is_highest_score_then_oldest(
    store: Store, clock: FakeClock
) -> None:
    scores = [0.6, 0.9, 0.6, 0.8]
    for i, score in enumerate(scores):
        outcome = await submit(store, clock, f"https://a.example/{i}")
        await work_to_verdict(store, clock, outcome, Verdict.REVIEW, score=score)
    by_age = await store.list_review_items()
    by_priority = await store.list_review_items(by_priority=True)
    assert [i.score for i in by_age] == scores
    assert [i.score for i in by_priority] == [0.9, 0.8, 0.6, 0.6]
    assert by_priority[2].created_at < by_priority[3].created_at
    second_page = await store.list_review_items(by_priority=True, offset=1, limit=2)
    assert [i.id for i in second_page] == [i.id for i in by_priority[1:3]]


async def test_a_claimed_item_is_blocked_for_others_until_the_claim_expires(
    store: Store, clock: FakeClock
) -> None:
    item_id = await open_review_item(store, clock)
    claimed = await store.claim_review_item(item_id, "key_alice", claim_seconds=60)
    assert claimed.claimed_by == "key_alice"
    assert claimed.claim_expires_at == clock() + timedelta(seconds=60)
    with pytest.raises(Conflict, match="claimed by another reviewer"):
        await store.claim_review_item(item_id, "key_bob", claim_seconds=60)
    with pytest.raises(Conflict, match="claimed by another reviewer"):
        await store.decide_review(item_id, ReviewDecision.CONFIRM, decided_by="key_bob")
    clock.advance(61)
    taken = await store.claim_review_item(item_id, "key_bob", claim_seconds=60)
    assert taken.claimed_by == "key_bob"


async def test_the_claimer_decides_and_the_claim_ends(store: Store, clock: FakeClock) -> None:
    item_id = await open_review_item(store, clock)
    await store.claim_review_item(item_id, "key_alice", claim_seconds=60)
    decided = await store.decide_review(item_id, ReviewDecision.REJECT, decided_by="key_alice")
    assert (decided.claimed_by, decided.claim_expires_at) == (None, None)
    with pytest.raises(Conflict):
        await store.claim_review_item(item_id, "key_alice", claim_seconds=60)


async def test_releasing_a_claim_frees_the_item_but_only_for_its_holder(
    store: Store, clock: FakeClock
) -> None:
    item_id = await open_review_item(store, clock)
    await store.claim_review_item(item_id, "key_alice", claim_seconds=60)
    kept = await store.release_review_item(item_id, "key_bob")
    assert kept.claimed_by == "key_alice"
    freed = await store.release_review_item(item_id, "key_alice")
    assert freed.claimed_by is None
    await store.claim_review_item(item_id, "key_bob", claim_seconds=60)
    with pytest.raises(NotFound):
        await store.claim_review_item("rev_unknown", "key_bob", claim_seconds=60)
