"""The `retro_match` job: a reference added during an event is matched against recent queries.

Query hash records stored with each result (within `retro_match_days`) are matched against
the new reference alone (a one-reference index); a query it matches gets a new result that
merges the old evidence with the new match, so its verdict, referral and review item follow
through the store as for any result. Queries that already list the reference are left alone,
so running the job again (a retry, a re-enable) changes nothing twice.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from hashes.formats.jsonl import loads_record
from hashes.index import ExactIndex
from hashes.matcher import Matcher
from hashes.policy import VerdictPolicy
from hashes.types import HashError, VideoHashes
from triage import metrics
from triage.models import MatchEvidence, ReferenceStatus, Verdict
from triage.store.protocol import Store
from triage.store.rules import utc_now
from workers.pipeline import MAX_EVIDENCE_MATCHES, match_evidence
from workers.runner import JobContext, permanent

_log = logging.getLogger(__name__)
_PAGE = 100
AUDIT_ACTOR = "system"
_RANK = {Verdict.NONE: 0, Verdict.REVIEW: 1, Verdict.CONFIRMED: 2}


class RetroMatcher:
    """Handles `retro_match` jobs (target: the reference id)."""

    def __init__(self, store: Store, policy: VerdictPolicy, window_days: float) -> None:
        self._store = store
        self._policy = policy
        self._window = timedelta(days=window_days)

    async def handle(self, ctx: JobContext) -> None:
        reference = await self._store.get_reference(ctx.job.target_id)
        record = None
        if reference.status is ReferenceStatus.ACTIVE:
            record = await self._store.get_reference_hashes(reference.id)
        if record is None:
            # Disabled, deleted or not hashed since: nothing to match against.
            await self._store.complete_job(ctx.job.id, ctx.worker_id)
            return
        try:
            hashes = loads_record(record).hashes
        except HashError as exc:
            raise permanent("bad_hashes", f"unreadable hash record: {exc}") from exc
        updated = await self.match_reference(reference.id, reference.label, hashes)
        _log.info("retro-matching %s: %d earlier queries matched", reference.id, updated)
        await self._store.append_audit(
            actor=AUDIT_ACTOR,
            action="reference.retro_match",
            target=reference.id,
            details={"queries_matched": updated},
        )
        await self._store.complete_job(ctx.job.id, ctx.worker_id)

    async def match_reference(self, reference_id: str, label: str, hashes: VideoHashes) -> int:
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
            for stored in page:
                try:
                    query = loads_record(stored.query_hashes).hashes
                except HashError:
                    _log.warning("media %s has an unreadable query record", stored.media_id)
                    continue
                matches = await asyncio.to_thread(matcher.match, query)
                if not matches or matches[0].score < self._policy.review_at:
                    continue
                new = match_evidence(matches[0], label)
                if await self._record(stored.media_id, new, stored.query_hashes):
                    updated += 1
            if len(page) < _PAGE:
                return updated
            after = page[-1].media_id

    async def _record(self, media_id: str, new: MatchEvidence, query_hashes: str) -> bool:
        existing = await self._store.get_result(media_id)
        earlier = existing.matches if existing is not None else ()
        if any(m.reference_id == new.reference_id for m in earlier):
            return False  # matched already, when it was analysed or by an earlier run
        merged = sorted([*earlier, new], key=lambda m: m.score, reverse=True)
        merged = merged[:MAX_EVIDENCE_MATCHES]
        verdict = self._policy.decide(merged[0].score)
        if existing is not None and _RANK[existing.verdict] > _RANK[verdict]:
            verdict = existing.verdict  # never undo a stronger verdict (a person's confirm)
        await self._store.record_result(
            media_id, verdict=verdict, matches=merged, query_hashes=query_hashes
        )
        metrics.retro_matches_total.labels(verdict=verdict.value).inc()
        metrics.verdicts_total.labels(verdict=verdict.value).inc()
        return True
