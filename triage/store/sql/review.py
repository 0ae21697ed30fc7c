"""Review decisions in SQL, with their referrals, suppressions and audit entries."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from triage.models import ReviewDecision, ReviewItem, ReviewState, Suppression, Verdict, text_sha256
from triage.store import rows, rules
from triage.store.sql.outbox import SqlOutbox
from triage.store.tables import results, review_items, suppressions


class SqlReview(SqlOutbox):
    """Review items and their decisions; suppressions made by rejections."""

    @classmethod
    async def _review_item(
        cls, conn: AsyncConnection, item_id: str, *, lock: bool = False
    ) -> ReviewItem:
        return rows.review_item(
            await cls._row_by_id(conn, review_items, item_id, "review item", lock=lock)
        )

    async def list_review_items(
        self, *, states: Collection[ReviewState] | None = None, limit: int = 100
    ) -> list[ReviewItem]:
        wanted = [s.value for s in (states if states is not None else {ReviewState.OPEN})]
        query = (
            select(review_items)
            .where(review_items.c.state.in_(wanted))
            .order_by(review_items.c.created_at, review_items.c.id)
            .limit(limit)
        )
        async with self._tx(read_only=True) as conn:
            return [rows.review_item(row._mapping) for row in await conn.execute(query)]

    async def get_review_item(self, item_id: str) -> ReviewItem:
        async with self._tx(read_only=True) as conn:
            return await self._review_item(conn, item_id)

    async def decide_review(
        self, item_id: str, decision: ReviewDecision, *, decided_by: str, note: str | None = None
    ) -> ReviewItem:
        async with self._tx() as conn:
            item = await self._review_item(conn, item_id, lock=True)
            rules.check_review_open(item)
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
                .values(state=state.value, decided_by=decided_by, decided_at=now, note=note)
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
