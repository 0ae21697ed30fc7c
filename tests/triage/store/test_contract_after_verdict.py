"""The store contract after the verdict: referral outbox, match feed, review, suppression,
retro-matching reads and the audit log. Every test runs on memory, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.triage.store.backends import FakeClock
from triage.errors import Conflict, NotFound
from triage.models import (
    FetchEvidence,
    MatchEvidence,
    ReviewDecision,
    ReviewState,
    SegmentEvidence,
    SubmitOutcome,
    Verdict,
    text_sha256,
)
from triage.store import Store


def _match(reference_id: str = "ref_a", score: float = 2.0) -> MatchEvidence:
    return MatchEvidence(
        reference_id=reference_id,
        label=f"label of {reference_id}",
        score=score,
        query_coverage=0.5,
        reference_coverage=0.5,
        matched_seconds=8.0,
        segments=(
            SegmentEvidence(
                query_start=0.0, query_end=8.0, reference_start=2.0, reference_end=10.0, score=score
            ),
        ),
    )


async def _process(
    store: Store,
    clock: FakeClock,
    *,
    url: str | None,
    sha256: str,
    verdict: Verdict,
    matches: list[MatchEvidence] | None = None,
    query_hashes: str = "Q",
) -> SubmitOutcome:
    """Submit, fetch and match one media the way a worker does; returns the submission."""
    if url is None:
        outcome = await store.create_upload_submission(
            upload_path="/uploads/x.mp4", sha256=sha256, upload_filename="x.mp4", key_id="k"
        )
    else:
        outcome = await store.create_submission(url=url, key_id="k")
    job = await store.claim_job("w")
    assert job is not None and job.target_id == outcome.submission.media_id
    media_id = outcome.submission.media_id
    evidence = FetchEvidence(
        final_url=url,
        sha256=sha256,
        size_bytes=10,
        content_type="video/mp4",
        fetched_at=clock(),
    )
    if await store.link_media_by_sha256(media_id, evidence) is not None:
        await store.complete_job(job.id, "w")
        return outcome
    await store.record_result(
        media_id,
        verdict=verdict,
        matches=matches if matches is not None else [_match()],
        query_hashes=query_hashes,
        job_id=job.id,
        worker_id="w",
    )
    clock.advance(1)
    return outcome


# --- referrals --------------------------------------------------------------------------------


async def test_confirmed_verdict_writes_one_referral_with_its_evidence(
    store: Store, clock: FakeClock
) -> None:
    outcome = await _process(
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
    assert referral.evidence == _match()
    assert referral.id.startswith("rfl_") and referral.cursor > 0


async def test_no_referral_for_review_or_none(store: Store, clock: FakeClock) -> None:
    await _process(store, clock, url="https://a.example/1", sha256="a" * 64, verdict=Verdict.REVIEW)
    await _process(
        store, clock, url="https://a.example/2", sha256="b" * 64, verdict=Verdict.NONE, matches=[]
    )
    assert await store.list_referrals() == []


async def test_same_content_through_another_url_is_referred_too(
    store: Store, clock: FakeClock
) -> None:
    await _process(
        store, clock, url="https://a.example/1", sha256="a" * 64, verdict=Verdict.CONFIRMED
    )
    await _process(
        store, clock, url="https://b.example/mirror", sha256="a" * 64, verdict=Verdict.CONFIRMED
    )
    referred = [r.url for r in await store.list_referrals()]
    assert referred == ["https://a.example/1", "https://b.example/mirror"]


async def test_upload_without_url_is_referred_by_its_content(
    store: Store, clock: FakeClock
) -> None:
    await _process(store, clock, url=None, sha256="c" * 64, verdict=Verdict.CONFIRMED)
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
        await _process(store, clock, url=url, sha256=f"{n}" * 64, verdict=Verdict.CONFIRMED)
    first_page = await store.list_referrals(limit=2)
    second_page = await store.list_referrals(after=first_page[-1].cursor, limit=2)
    assert [r.url for r in first_page + second_page] == urls
    assert await store.list_referrals(after=second_page[-1].cursor) == []
    scoped = await store.list_referrals(hosts=["Example.com"])
    assert [r.url for r in scoped] == urls[:2]


async def test_sink_cursor_only_moves_forward(store: Store) -> None:
    assert await store.get_sink_cursor("webhook") == 0
    assert await store.set_sink_cursor("webhook", 5) == 5
    assert await store.set_sink_cursor("webhook", 3) == 5
    assert await store.get_sink_cursor("webhook") == 5
    assert await store.get_sink_cursor("stream") == 0


# --- match feed -------------------------------------------------------------------------------


async def test_match_feed_filters_and_moves_updated_results_to_the_end(
    store: Store, clock: FakeClock
) -> None:
    one = await _process(
        store, clock, url="https://a.example/1", sha256="1" * 64, verdict=Verdict.CONFIRMED
    )
    await _process(
        store,
        clock,
        url="https://b.example/2",
        sha256="2" * 64,
        verdict=Verdict.REVIEW,
        matches=[_match("ref_b", 0.7)],
    )
    feed = await store.list_matches()
    assert [m.url for m in feed] == ["https://a.example/1", "https://b.example/2"]
    assert feed[0].matches == (_match(),) and feed[0].sha256 == "1" * 64
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
        matches=[_match(), _match("ref_c", 1.5)],
        query_hashes="Q",
    )
    after = await store.list_matches(after=feed[-1].cursor)
    assert [m.media_id for m in after] == [one.submission.media_id]
    assert [m.url for m in await store.list_matches(reference_id="ref_c")] == [
        "https://a.example/1"
    ]


# --- review and suppression -------------------------------------------------------------------


async def test_review_verdict_opens_one_item_oldest_first(store: Store, clock: FakeClock) -> None:
    first = await _process(
        store, clock, url="https://a.example/1", sha256="1" * 64, verdict=Verdict.REVIEW
    )
    await _process(store, clock, url="https://a.example/2", sha256="2" * 64, verdict=Verdict.REVIEW)
    await store.record_result(
        first.submission.media_id, verdict=Verdict.REVIEW, matches=[_match()], query_hashes="Q"
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
    outcome = await _process(
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
    outcome = await _process(
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
    again = await _process(
        store, clock, url="https://news.example/copy", sha256="1" * 64, verdict=Verdict.REVIEW
    )
    reencoded = await _process(
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
    await _process(store, clock, url="https://a.example/1", sha256="1" * 64, verdict=Verdict.REVIEW)
    [item] = await store.list_review_items()
    await store.decide_review(item.id, ReviewDecision.REJECT, decided_by="k")
    with pytest.raises(Conflict):
        await store.decide_review(item.id, ReviewDecision.CONFIRM, decided_by="k")
    with pytest.raises(NotFound):
        await store.decide_review("rev_missing", ReviewDecision.CONFIRM, decided_by="k")


# --- retro-matching and audit -----------------------------------------------------------------


async def test_query_hashes_since_a_time_page_by_media_id(store: Store, clock: FakeClock) -> None:
    await _process(store, clock, url="https://a.example/old", sha256="0" * 64, verdict=Verdict.NONE)
    clock.advance(3600)
    since = clock.now
    for n in range(1, 4):
        await _process(
            store,
            clock,
            url=f"https://a.example/{n}",
            sha256=f"{n}" * 64,
            verdict=Verdict.NONE,
            query_hashes=f"Q{n}",
        )
    first = await store.list_query_hashes(since=since, limit=2)
    rest = await store.list_query_hashes(since=since, after_media_id=first[-1].media_id)
    records = first + rest
    assert sorted(q.query_hashes for q in records) == ["Q1", "Q2", "Q3"]
    assert [q.media_id for q in records] == sorted(q.media_id for q in records)
    assert all(q.created_at >= since for q in records)
    everything = await store.list_query_hashes(since=since - timedelta(days=1))
    assert len(everything) == 4


async def test_audit_log_appends_in_order_and_pages(store: Store, clock: FakeClock) -> None:
    first = await store.append_audit(
        actor="key_admin", action="key.create", target="key_2", details={"scopes": ["read"]}
    )
    clock.advance(1)
    second = await store.append_audit(actor="key_admin", action="key.revoke", target="key_2")
    assert second.cursor > first.cursor
    assert await store.list_audit() == [first, second]
    assert await store.list_audit(after=first.cursor) == [second]
    assert first.details == {"scopes": ["read"]} and second.details == {}
    assert second.at == clock.now
