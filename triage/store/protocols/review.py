"""The review queue: items opened by `review` verdicts, claimed and decided by reviewers, and
the suppressions a rejection leaves."""

from __future__ import annotations

from collections.abc import Collection
from typing import Protocol

from triage.models import ReviewDecision, ReviewItem, ReviewState, Suppression


class ReviewQueue(Protocol):
    """Review items, reviewers' claims and decisions, and suppressions."""

    async def list_review_items(
        self,
        *,
        states: Collection[ReviewState] | None = None,
        limit: int = 100,
        offset: int = 0,
        by_priority: bool = False,
    ) -> list[ReviewItem]:
        """Review items, oldest first; `states` defaults to open ones only.

        `by_priority`: highest score first, then oldest (the order reviewers work in).
        Each item carries the first submission of its media (`submission_id`...).
        """

    async def claim_review_item(
        self, item_id: str, claimed_by: str, *, claim_seconds: float
    ) -> ReviewItem:
        """Hold an open item for `claimed_by` until now + `claim_seconds` (again: extends).

        `Conflict` if it is decided, or claimed by someone else whose claim has not expired.
        `NotFound`.
        """

    async def release_review_item(self, item_id: str, claimed_by: str) -> ReviewItem:
        """Drop `claimed_by`'s claim (nothing happens if another holds it). `NotFound`."""

    async def get_review_item(self, item_id: str) -> ReviewItem:
        """`NotFound`."""

    async def decide_review(
        self,
        item_id: str,
        decision: ReviewDecision,
        *,
        decided_by: str,
        note: str | None = None,
    ) -> ReviewItem:
        """Close an open review item, in one transaction with its consequences and audit entry.

        Confirm: the result becomes `confirmed` and its URLs are referred. Reject: the result
        becomes `none` and `suppressed`, and the content is suppressed from now on (its
        SHA-256 and its query hashes). `Conflict` if already decided, or claimed by another
        key than `decided_by` (unexpired); `NotFound`.
        """

    async def list_suppressions(self) -> list[Suppression]:
        """Every suppression, oldest first."""
