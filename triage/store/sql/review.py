"""Review decisions in SQL, with their referrals, suppressions and audit entries."""

from __future__ import annotations

from collections.abc import Collection
from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from triage.errors import NotFound
from triage.models import ReviewDecision, ReviewItem, ReviewState, Suppression, Verdict, text_sha256
from triage.store import rows, rules
from triage.store.sql.audit import SqlAudit
from triage.store.sql.base import first_submission_columns
from triage.store.sql.outbox import SqlOutbox
from triage.store.tables import results, review_items, suppressions


class SqlReview(SqlOutbox, SqlAudit):
    """Review items and their decisions; suppressions made by rejections."""

    @classmethod
    async def _review_item(
        cls, conn: AsyncConnection, item_id: str, *, lock: bool = False
    ) -> ReviewItem:
        if lock:
            await cls._row_by_id(conn, review_items, item_id, "review item", lock=True)
        row = (
            await conn.execute(
                select(review_items, *first_submission_columns(review_items.c.media_id)).where(
                    review_items.c.id == item_id
                )
            )
        ).first()
        if row is None:
            raise NotFound(f"no review item {item_id}")
        return rows.review_item(row._mapping)

    async def list_review_items(
        self,
        *,
        states: Collection[ReviewState] | None = None,
        limit: int = 100,
        offset: int = 0,
        by_priority: bool = False,
    ) -> list[ReviewItem]:
        wanted = [s.value for s in (states if states is not None else {ReviewState.OPEN})]
        order: list[ColumnElement[Any]] = [review_items.c.created_at, review_items.c.id]
        if by_priority:
            order.insert(0, func.coalesce(review_items.c.score, 0.0).desc())
        query = (
            select(review_items, *first_submission_columns(review_items.c.media_id))
            .where(review_items.c.state.in_(wanted))
            .order_by(*order)
            .offset(offset)
            .limit(limit)
        )
        async with self._tx(read_only=True) as conn:
            return [rows.review_item(row._mapping) for row in await conn.execute(query)]

    async def get_review_item(self, item_id: str) -> ReviewItem:
        async with self._tx(read_only=True) as conn:
            return await self._review_item(conn, item_id)

    async def claim_review_item(
        self, item_id: str, claimed_by: str, *, claim_seconds: float
    ) -> ReviewItem:
        async with self._tx() as conn:
            item = await self._review_item(conn, item_id, lock=True)
            now = self._now()
            rules.check_claimable(item, claimed_by, now)
            await conn.execute(
                update(review_items)
                .where(review_items.c.id == item_id)
                .values(
                    claimed_by=claimed_by, claim_expires_at=now + timedelta(seconds=claim_seconds)
                )
            )
            return await self._review_item(conn, item_id)

    async def release_review_item(self, item_id: str, claimed_by: str) -> ReviewItem:
        async with self._tx() as conn:
            await self._review_item(conn, item_id, lock=True)
            await conn.execute(
                update(review_items)
                .where(review_items.c.id == item_id, review_items.c.claimed_by == claimed_by)
                .values(claimed_by=None, claim_expires_at=None)
            )
            return await self._review_item(conn, item_id)

    async def decide_review(
        self, item_id: str, decision: ReviewDecision, *, decided_by: str, note: str | None = None
    ) -> ReviewItem:
        async with self._tx() as conn:
            item = await self._review_item(conn, item_id, lock=True)
            rules.check_review_open(item)
            rules.check_not_claimed_by_other(item, decided_by, self._now())
            subject = await self._media(conn, item.media_id)
            result = await self._result(conn, subject.id)
            now = self._now()
            if decision is ReviewDecision.CONFIRM:
                state = ReviewState.CONFIRMED
                changes: dict[str, Any] = {"verdict": Verdict.CONFIRMED.value}
            else:
                state = ReviewState.REJECTED
                changes = {"verdict": Verdict.NONE.value, "suppressed": True}
            changes["seq"] = await self._next(conn, "results")
            await conn.execute(
                update(results).where(results.c.media_id == subject.id).values(changes)
            )
            if decision is ReviewDecision.CONFIRM:
                if result is not None and result.best is not None:
                    await self._refer_with_copies(conn, subject, result.best)
            else:
                query_hashes = await conn.scalar(
                    select(results.c.query_hashes).where(results.c.media_id == subject.id)
                )
                await conn.execute(
                    insert(suppressions).values(
                        id=rules.new_id("sup"),
                        sha256=subject.sha256,
                        query_hashes_sha256=text_sha256(query_hashes) if query_hashes else None,
                        review_item_id=item.id,
                        created_by=decided_by,
                        created_at=now,
                    )
                )
            await conn.execute(
                update(review_items)
                .where(review_items.c.id == item_id)
                .values(
                    state=state.value,
                    decided_by=decided_by,
                    decided_at=now,
                    note=note,
                    claimed_by=None,
                    claim_expires_at=None,
                )
            )
            await self._append_audit(
                conn,
                actor=decided_by,
                action=f"review.{decision.value}",
                target=item_id,
                details={"media_id": subject.id, "note": note},
            )
            return await self._review_item(conn, item_id)

    async def list_suppressions(self) -> list[Suppression]:
        async with self._tx(read_only=True) as conn:
            result = await conn.execute(
                select(suppressions).order_by(suppressions.c.created_at, suppressions.c.id)
            )
            return [rows.suppression(row._mapping) for row in result]
