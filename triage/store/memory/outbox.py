"""The outbox in memory: referrals (and the review item a verdict opens), sink cursors and the
match feed."""

from __future__ import annotations

from collections.abc import Collection

from triage.evidence import MatchEvidence
from triage.models import (
    MatchRecord,
    Media,
    Referral,
    ReviewItem,
    ReviewState,
    Verdict,
)
from triage.store import rules
from triage.store.memory.base import MemoryBase


class MemoryOutbox(MemoryBase):
    """Referrals (written once per subject), sink cursors and the match feed."""

    def _refer(self, media: Media, best: MatchEvidence) -> None:
        subject = rules.referral_subject(media.url, media.sha256)
        if subject is None or subject in self._referral_subjects:
            return
        self._referral_subjects.add(subject)
        self._referrals.append(
            Referral(
                cursor=self._next("referrals"),
                id=rules.new_id("rfl"),
                media_id=media.id,
                url=media.url,
                host=rules.url_host(media.url),
                sha256=media.sha256,
                reference_id=best.reference_id,
                label=best.label,
                evidence=best,
                created_at=self._now(),
            )
        )

    def _refer_with_copies(self, media: Media, best: MatchEvidence) -> None:
        self._refer(media, best)
        for copy in self._media.values():
            if copy.same_as == media.id:
                self._refer(copy, best)

    def _open_review(self, media: Media, best: MatchEvidence) -> None:
        if any(
            item.media_id == media.id and item.state is ReviewState.OPEN
            for item in self._review_items.values()
        ):
            return
        item = ReviewItem(
            id=rules.new_id("rev"),
            media_id=media.id,
            url=media.url,
            sha256=media.sha256,
            reference_id=best.reference_id,
            label=best.label,
            score=best.score,
            state=ReviewState.OPEN,
            created_at=self._now(),
        )
        self._review_items[item.id] = item

    async def list_referrals(
        self, *, after: int = 0, limit: int = 100, hosts: Collection[str] | None = None
    ) -> list[Referral]:
        found = [
            r
            for r in self._referrals
            if r.cursor > after and (hosts is None or rules.host_allowed(r.host, hosts))
        ]
        return [r.model_copy(update=self._context(r.media_id)) for r in found[:limit]]

    async def get_sink_cursor(self, sink: str) -> int:
        return self._sink_cursors.get(sink, 0)

    async def set_sink_cursor(self, sink: str, cursor: int) -> int:
        self._sink_cursors[sink] = max(self._sink_cursors.get(sink, 0), cursor)
        return self._sink_cursors[sink]

    async def list_matches(
        self,
        *,
        after: int = 0,
        limit: int = 100,
        verdicts: Collection[Verdict] | None = None,
        reference_id: str | None = None,
        hosts: Collection[str] | None = None,
    ) -> list[MatchRecord]:
        records = []
        for result in sorted(self._results.values(), key=lambda r: r.cursor):
            media = self._media[result.media_id]
            host = rules.url_host(media.url)
            if (
                result.cursor <= after
                or (verdicts is not None and result.verdict not in verdicts)
                or (
                    reference_id is not None
                    and all(m.reference_id != reference_id for m in result.matches)
                )
                or (hosts is not None and not rules.host_allowed(host, hosts))
            ):
                continue
            records.append(
                MatchRecord(
                    cursor=result.cursor,
                    media_id=media.id,
                    url=media.url,
                    host=host,
                    sha256=media.sha256,
                    verdict=result.verdict,
                    matches=result.matches,
                    suppressed=result.suppressed,
                    created_at=result.created_at,
                    **self._context(media.id),
                )
            )
        return records[:limit]
