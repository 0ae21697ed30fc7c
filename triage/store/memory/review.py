"""Review decisions in memory, with their referrals, suppressions and audit entries."""

from __future__ import annotations

from collections.abc import Collection
from datetime import timedelta

from triage.errors import NotFound
from triage.models import ReviewDecision, ReviewItem, ReviewState, Suppression, Verdict, text_sha256
from triage.store import rules
from triage.store.memory.audit import MemoryAudit
from triage.store.memory.outbox import MemoryOutbox


class MemoryReview(MemoryOutbox, MemoryAudit):
    """Review items and their decisions; suppressions made by rejections."""

    def _with_context(self, item: ReviewItem) -> ReviewItem:
        first = self._first_submission(item.media_id)
        if first is None:
            return item
        return item.model_copy(
            update={
                "submission_id": first.id,
                "external_id": first.external_id,
                "submission_note": first.note,
                "upload_filename": first.upload_filename,
            }
        )

    async def list_review_items(
        self,
        *,
        states: Collection[ReviewState] | None = None,
        limit: int = 100,
        offset: int = 0,
        by_priority: bool = False,
    ) -> list[ReviewItem]:
        wanted = states if states is not None else {ReviewState.OPEN}
        items = [item for item in self._review_items.values() if item.state in wanted]
        key = rules.review_priority if by_priority else rules.review_age
        items.sort(key=key)
        return [self._with_context(i) for i in items[offset : offset + limit]]

    def _item(self, item_id: str) -> ReviewItem:
        item = self._review_items.get(item_id)
        if item is None:
            raise NotFound(f"no review item {item_id}")
        return item

    async def get_review_item(self, item_id: str) -> ReviewItem:
        return self._with_context(self._item(item_id))

    async def claim_review_item(
        self, item_id: str, claimed_by: str, *, claim_seconds: float
    ) -> ReviewItem:
        item = self._item(item_id)
        now = self._now()
        rules.check_claimable(item, claimed_by, now)
        claimed = item.model_copy(
            update={
                "claimed_by": claimed_by,
                "claim_expires_at": now + timedelta(seconds=claim_seconds),
            }
        )
        self._review_items[item_id] = claimed
        return self._with_context(claimed)

    async def release_review_item(self, item_id: str, claimed_by: str) -> ReviewItem:
        item = self._item(item_id)
        if item.claimed_by == claimed_by:
            item = item.model_copy(update={"claimed_by": None, "claim_expires_at": None})
            self._review_items[item_id] = item
        return self._with_context(item)

    async def decide_review(
        self, item_id: str, decision: ReviewDecision, *, decided_by: str, note: str | None = None
    ) -> ReviewItem:
        item = self._item(item_id)
        rules.check_review_open(item)
        rules.check_not_claimed_by_other(item, decided_by, self._now())
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
            update={
                "state": state,
                "decided_by": decided_by,
                "decided_at": now,
                "note": note,
                "claimed_by": None,
                "claim_expires_at": None,
            }
        )
        self._review_items[item_id] = decided
        await self.append_audit(
            actor=decided_by,
            action=f"review.{decision.value}",
            target=item_id,
            details={"media_id": media.id, "note": note},
        )
        return self._with_context(decided)

    async def list_suppressions(self) -> list[Suppression]:
        return list(self._suppressions)
