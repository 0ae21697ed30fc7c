"""Retro-matching: a reference added during an event is matched against recent queries.

Query hash records stored with each result (within `retro_match_days`) are matched against
the new reference alone; a query it matches gets a new result that merges the old evidence
with the new match, so its verdict, referral and review item follow as for any result.
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
from triage.errors import TriageError
from triage.models import MatchEvidence
from triage.store.protocol import Store
from triage.store.rules import utc_now
from workers.index_cache import LiveIndex
from workers.pipeline import MAX_EVIDENCE_MATCHES, match_evidence

_log = logging.getLogger(__name__)
_PAGE = 100


class RetroMatcher:
    def __init__(
        self, store: Store, index: LiveIndex, policy: VerdictPolicy, window_days: float
    ) -> None:
        self._store = store
        self._index = index
        self._policy = policy
        self._window = timedelta(days=window_days)

    async def run(self, stop: asyncio.Event) -> None:
        """Retro-match each reference the live index reports as new, until `stop`."""
        while not stop.is_set():
            getter = asyncio.ensure_future(self._index.new_references.get())
            stopper = asyncio.ensure_future(stop.wait())
            await asyncio.wait({getter, stopper}, return_when=asyncio.FIRST_COMPLETED)
            stopper.cancel()
            if not getter.done():
                getter.cancel()
                return
            reference_id, hashes = getter.result()
            try:
                count = await self.match_reference(reference_id, hashes)
                _log.info("retro-matching %s: %d earlier queries matched", reference_id, count)
            except (TriageError, HashError):
                _log.exception("retro-matching %s failed", reference_id)

    async def match_reference(self, reference_id: str, hashes: VideoHashes) -> int:
        """Match stored queries of the window against one reference; returns how many
        got a new result."""
        index = ExactIndex()
        index.add(reference_id, hashes)
        matcher = Matcher(index)
        label = self._index.label(reference_id)
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
            return False  # already matched when it was first analysed
        merged = sorted([*earlier, new], key=lambda m: m.score, reverse=True)
        merged = merged[:MAX_EVIDENCE_MATCHES]
        verdict = self._policy.decide(merged[0].score)
        await self._store.record_result(
            media_id, verdict=verdict, matches=merged, query_hashes=query_hashes
        )
        metrics.retro_matches_total.labels(verdict=verdict.value).inc()
        return True
