"""The outbox in SQL: referrals (and the review item a verdict opens), sink cursors and the
match feed."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import false, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from triage.errors import Conflict
from triage.evidence import MatchEvidence
from triage.models import (
    MatchRecord,
    Media,
    Referral,
    ReviewState,
    Verdict,
)
from triage.store import rows, rules
from triage.store.sql.base import SqlBase, first_submission_columns
from triage.store.tables import (
    media,
    referrals,
    result_references,
    results,
    review_items,
    sink_cursors,
)


class SqlOutbox(SqlBase):
    """Referrals (written once per subject), sink cursors and the match feed."""

    async def _refer(self, conn: AsyncConnection, subject: Media, best: MatchEvidence) -> None:
        key = rules.referral_subject(subject.url, subject.sha256)
        if key is None:
            return
        exists = select(referrals.c.seq).where(referrals.c.subject == key)
        if await conn.scalar(exists) is not None:
            return
        seq = await self._next(conn, "referrals")
        if await conn.scalar(exists) is not None:  # referred while we waited for the lock
            return
        await conn.execute(
            insert(referrals).values(
                seq=seq,
                id=rules.new_id("rfl"),
                subject=key,
                media_id=subject.id,
                url=subject.url,
                host=rules.url_host(subject.url),
                sha256=subject.sha256,
                reference_id=best.reference_id,
                label=best.label,
                evidence=best.model_dump(mode="json"),
                created_at=self._now(),
            )
        )

    async def _refer_with_copies(
        self, conn: AsyncConnection, subject: Media, best: MatchEvidence
    ) -> None:
        await self._refer(conn, subject, best)
        copies = await conn.execute(
            select(media).where(media.c.same_as == subject.id).order_by(media.c.created_at)
        )
        for row in copies.all():
            await self._refer(conn, rows.media(row._mapping), best)

    async def _open_review(
        self, conn: AsyncConnection, subject: Media, best: MatchEvidence
    ) -> None:
        open_item = await conn.scalar(
            select(review_items.c.id).where(
                review_items.c.media_id == subject.id,
                review_items.c.state == ReviewState.OPEN.value,
            )
        )
        if open_item is not None:
            return
        await conn.execute(
            insert(review_items).values(
                id=rules.new_id("rev"),
                media_id=subject.id,
                url=subject.url,
                sha256=subject.sha256,
                reference_id=best.reference_id,
                label=best.label,
                score=best.score,
                state=ReviewState.OPEN.value,
                created_at=self._now(),
            )
        )

    @staticmethod
    def _host_filter(column: Any, hosts: Collection[str]) -> Any:
        wanted = rules.normal_hosts(hosts)
        if not wanted:
            return false()
        return or_(
            column.in_(wanted), *(column.endswith("." + host, autoescape=True) for host in wanted)
        )

    async def list_referrals(
        self, *, after: int = 0, limit: int = 100, hosts: Collection[str] | None = None
    ) -> list[Referral]:
        query = (
            select(referrals, *first_submission_columns(referrals.c.media_id))
            .where(referrals.c.seq > after)
            .order_by(referrals.c.seq)
            .limit(limit)
        )
        if hosts is not None:
            query = query.where(self._host_filter(referrals.c.host, hosts))
        async with self._tx(read_only=True) as conn:
            return [rows.referral(row._mapping) for row in await conn.execute(query)]

    async def get_sink_cursor(self, sink: str) -> int:
        async with self._tx(read_only=True) as conn:
            cursor = await conn.scalar(
                select(sink_cursors.c.cursor).where(sink_cursors.c.sink == sink)
            )
        return int(cursor or 0)

    async def set_sink_cursor(self, sink: str, cursor: int) -> int:
        # Two first writers of one sink race on its primary key; the loser tries again.
        for attempt in range(2):
            try:
                async with self._tx() as conn:
                    stored = await conn.scalar(
                        select(sink_cursors.c.cursor)
                        .where(sink_cursors.c.sink == sink)
                        .with_for_update()
                    )
                    if stored is None:
                        await conn.execute(insert(sink_cursors).values(sink=sink, cursor=cursor))
                        return cursor
                    if cursor > stored:
                        await conn.execute(
                            update(sink_cursors)
                            .where(sink_cursors.c.sink == sink)
                            .values(cursor=cursor)
                        )
                        return cursor
                    return int(stored)
            except Conflict:
                if attempt == 1:
                    raise
        return cursor

    async def list_matches(
        self,
        *,
        after: int = 0,
        limit: int = 100,
        verdicts: Collection[Verdict] | None = None,
        reference_id: str | None = None,
        hosts: Collection[str] | None = None,
    ) -> list[MatchRecord]:
        query = (
            select(
                results.c.seq,
                results.c.media_id,
                results.c.verdict,
                results.c.matches,
                results.c.suppressed,
                results.c.created_at,
                media.c.url,
                media.c.host,
                media.c.sha256,
                *first_submission_columns(results.c.media_id),
            )
            .join(media, media.c.id == results.c.media_id)
            .where(results.c.seq > after)
            .order_by(results.c.seq)
            .limit(limit)
        )
        if verdicts is not None:
            query = query.where(results.c.verdict.in_([Verdict(v).value for v in verdicts]))
        if reference_id is not None:
            query = query.where(
                select(result_references.c.media_id)
                .where(
                    result_references.c.media_id == results.c.media_id,
                    result_references.c.reference_id == reference_id,
                )
                .exists()
            )
        if hosts is not None:
            query = query.where(self._host_filter(media.c.host, hosts))
        async with self._tx(read_only=True) as conn:
            return [rows.match_record(row._mapping) for row in await conn.execute(query)]
