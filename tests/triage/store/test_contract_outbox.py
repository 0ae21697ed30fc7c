"""The store contract for the referral outbox and the match feed: a confirmed result writes its
referral; referrals page by cursor; a sink's cursor only moves forward; the feed filters and
moves updated results to the end. Every test runs on memory, SQLite and PostgreSQL."""

from __future__ import annotations

from tests.triage.store.backends import FakeClock
from tests.triage.store.results import match_evidence, process_media
from triage.models import Verdict
from triage.store import Store


async def test_confirmed_verdict_writes_one_referral_with_its_evidence(
    store: Store, clock: FakeClock
) -> None:
    outcome = await process_media(
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
    await process_media(
        store, clock, url="https://a.example/1", sha256="a" * 64, verdict=Verdict.REVIEW
    )
    await process_media(
        store, clock, url="https://a.example/2", sha256="b" * 64, verdict=Verdict.NONE, matches=[]
    )
    assert await store.list_referrals() == []


async def test_same_content_through_another_url_is_referred_too(
    store: Store, clock: FakeClock
) -> None:
    await process_media(
        store, clock, url="https://a.example/1", sha256="a" * 64, verdict=Verdict.CONFIRMED
    )
    await process_media(
        store, clock, url="https://b.example/mirror", sha256="a" * 64, verdict=Verdict.CONFIRMED
    )
    referred = [r.url for r in await store.list_referrals()]
    assert referred == ["https://a.example/1", "https://b.example/mirror"]


async def test_upload_without_url_is_referred_by_its_content(
    store: Store, clock: FakeClock
) -> None:
    await process_media(store, clock, url=None, sha256="c" * 64, verdict=Verdict.CONFIRMED)
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
        await process_media(store, clock, url=url, sha256=f"{n}" * 64, verdict=Verdict.CONFIRMED)
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


async def test_match_feed_filters_and_moves_updated_results_to_the_end(
    store: Store, clock: FakeClock
) -> None:
    one = await process_media(
        store, clock, url="https://a.example/1", sha256="1" * 64, verdict=Verdict.CONFIRMED
    )
    await process_media(
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
