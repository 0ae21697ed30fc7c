"""The store contract for the query hashes retro-matching reads: since a time, paged by media
id. Every test runs on memory, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from tests.triage.store.backends import FakeClock
from tests.triage.store.results import process_media
from triage.models import Verdict
from triage.store import Store


async def test_query_hashes_since_a_time_page_by_media_id(store: Store, clock: FakeClock) -> None:
    await process_media(
        store, clock, url="https://a.example/old", sha256="0" * 64, verdict=Verdict.NONE
    )
    clock.advance(3600)
    since = clock.now
    for n in range(1, 4):
        await process_media(
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
