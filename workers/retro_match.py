"""The `retro_match` job: a reference added during an event is matched against recent queries.

Query hash records stored with each result (within `retro_match_days`) are first matched
against the new reference alone (a one-reference index: cheap, whatever the list size). A
query it matches is matched again against the whole live list, as a new submission would be,
and gets a new result merging that with its earlier evidence; its verdict, referral and
review item follow through the store as for any result. Because every job writes the full
match, two jobs for different references touching the same query cannot drop each other's
evidence. A verdict never weakens (a person's confirm stays), and queries that already list
the reference are left alone, so running a job again changes nothing twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Protocol

from hashes.formats.jsonl import loads_record
from hashes.index import ExactIndex
from hashes.matcher import Matcher
from hashes.types import HashError, VideoHashes
from triage import metrics
from triage.actors import SYSTEM_ACTOR
from triage.models import QueryHashes, ReferenceStatus, Verdict
from triage.store.protocols import AuditLog, HashList, Submissions
from triage.store.rules import utc_now
from triage.verdicts import MAX_EVIDENCE_MATCHES, Decision, VerdictStep
from workers.pipeline import log_verdict
from workers.runner import JobContext, permanent

_log = logging.getLogger(__name__)
_PAGE = 100
_RANK = {Verdict.NONE: 0, Verdict.REVIEW: 1, Verdict.CONFIRMED: 2}

RematchFunction = Callable[[VideoHashes], Awaitable[Decision]]
"""The decision on query hashes against the whole live list (`Pipeline.lookup`)."""


class RetroStore(HashList, Submissions, AuditLog, Protocol):
    """What retro-matching reads and writes: the new reference, the stored queries and their
    results, and the audit log."""


class RetroMatcher:
    """Handles `retro_match` jobs (target: the reference id)."""

    def __init__(
        self, store: RetroStore, verdicts: VerdictStep, window_days: float, rematch: RematchFunction
    ) -> None:
        self._store = store
        self._verdicts = verdicts
        self._window = timedelta(days=window_days)
        self._rematch = rematch

    async def handle(self, ctx: JobContext) -> None:
        reference = await self._store.get_reference(ctx.job.target_id)
        record = None
        if reference.status is ReferenceStatus.ACTIVE:
            record = await self._store.get_reference_hashes(reference.id)
        if record is None:
            # Disabled, deleted or not hashed since: nothing to match against.
            await ctx.complete()
            return
        try:
            hashes = loads_record(record).hashes
        except HashError as exc:
            raise permanent("bad_hashes", f"unreadable hash record: {exc}") from exc
        updated = await self.match_reference(reference.id, hashes)
        _log.info("retro-matching %s: %d earlier queries matched", reference.id, updated)
        await self._store.append_audit(
            actor=SYSTEM_ACTOR,
            action="reference.retro_match",
            target=reference.id,
            details={"queries_matched": updated},
        )
        await ctx.complete()

    async def match_reference(self, reference_id: str, hashes: VideoHashes) -> int:
        """Match the stored queries of the window against one reference; returns how many
        got a new result."""
        index = ExactIndex()
        index.add(reference_id, hashes)
        matcher = Matcher(index)
        since = utc_now() - self._window
        after: str | None = None
        updated = 0
        while True:
            page = await self._store.list_query_hashes(
                since=since, after_media_id=after, limit=_PAGE
            )
            # Parsing and matching a page is CPU work: off the event loop, in one go.
            hits = await asyncio.to_thread(self._scan, matcher, page)
            for stored, query in hits:
                if await self._record(stored.media_id, reference_id, query, stored.query_hashes):
                    updated += 1
            if len(page) < _PAGE:
                return updated
            after = page[-1].media_id

    def _scan(
        self, matcher: Matcher, page: list[QueryHashes]
    ) -> list[tuple[QueryHashes, VideoHashes]]:
        """The stored queries of `page` that the one-reference `matcher` finds."""
        hits = []
        for stored in page:
            try:
                query = loads_record(stored.query_hashes).hashes
            except HashError:
                _log.warning("media %s has an unreadable query record", stored.media_id)
                continue
            found = matcher.match(query)
            if found and found[0].score >= self._verdicts.review_at:
                hits.append((stored, query))
        return hits

    async def _record(
        self, media_id: str, reference_id: str, query: VideoHashes, query_hashes: str
    ) -> bool:
        existing = await self._store.get_result(media_id)
        earlier = existing.matches if existing is not None else ()
        if any(m.reference_id == reference_id for m in earlier):
            return False  # matched already, when it was analysed or by an earlier run
        current = (await self._rematch(query)).evidence
        if not any(m.reference_id == reference_id for m in current):
            return False  # against the whole list it scores below review_at
        listed = {m.reference_id for m in current}
        kept = [m for m in earlier if m.reference_id not in listed]  # e.g. since disabled
        merged = sorted([*current, *kept], key=lambda m: m.score, reverse=True)
        merged = merged[:MAX_EVIDENCE_MATCHES]
        verdict = self._verdicts.decide_evidence(merged)
        if existing is not None and _RANK[existing.verdict] > _RANK[verdict]:
            verdict = existing.verdict  # never undo a stronger verdict (a person's confirm)
        await self._store.record_result(
            media_id, verdict=verdict, matches=merged, query_hashes=query_hashes
        )
        metrics.retro_matches_total.labels(verdict=verdict.value).inc()
        metrics.verdicts_total.labels(verdict=verdict.value).inc()
        log_verdict(media_id, verdict, merged[0].reference_id, merged[0].score, look="retro")
        return True
