"""Review decisions in memory, with their referrals, suppressions and audit entries."""

from __future__ import annotations

from collections.abc import Collection

from triage.errors import NotFound
from triage.models import ReviewDecision, ReviewItem, ReviewState, Suppression, Verdict, text_sha256
from triage.store import rules
from triage.store.memory.outbox import MemoryOutbox


class MemoryReview(MemoryOutbox):
    """Review items and their decisions; suppressions made by rejections."""

    async def list_review_items(
        self, *, states: Collection[ReviewState] | None = None, limit: int = 100
    ) -> list[ReviewItem]:
        wanted = states if states is not None else {ReviewState.OPEN}
        items = [item for item in self._review_items.values() if item.state in wanted]
        return items[:limit]

    async def get_review_item(self, item_id: str) -> ReviewItem:
        item = self._review_items.get(item_id)
        if item is None:
            raise NotFound(f"no review item {item_id}")
        return item

    async def decide_review(
        self, item_id: str, decision: ReviewDecision, *, decided_by: str, note: str | None = None
    ) -> ReviewItem:
        item = await self.get_review_item(item_id)
        rules.check_review_open(item)
        media = self._media[item.media_id]
        result = self._results[media.id]
        now = self._now()
        if decision is ReviewDecision.CONFIRM:
            state = ReviewState.CONFIRMED
            self._results[media.id] = result.model_copy(
                update={"verdict": Verdict.CONFIRMED, "cursor": self._next("results")}
            )
            if result.best is not None:
                self._refer_with_copies(media, result.best)
        else:
            state = ReviewState.REJECTED
            self._results[media.id] = result.model_copy(
                update={
                    "verdict": Verdict.NONE,
                    "suppressed": True,
                    "cursor": self._next("results"),
                }
            )
            query_hashes = self._query_hashes.get(media.id)
            self._suppressions.append(
                Suppression(
                    id=rules.new_id("sup"),
                    sha256=media.sha256,
                    query_hashes_sha256=text_sha256(query_hashes) if query_hashes else None,
                    review_item_id=item.id,
                    created_by=decided_by,
                    created_at=now,
                )
            )
        decided = item.model_copy(
            update={"state": state, "decided_by": decided_by, "decided_at": now, "note": note}
        )
        self._review_items[item_id] = decided
        await self.append_audit(
            actor=decided_by,
            action=f"review.{decision.value}",
            target=item_id,
            details={"media_id": media.id, "note": note},
        )
        return decided

    async def list_suppressions(self) -> list[Suppression]:
        return list(self._suppressions)
