"""Parked referrals in SQL: deliveries a sink set aside after repeated refusals."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from triage.errors import NotFound
from triage.models import ParkedReferral, ParkedState, Referral
from triage.store import rows, rules
from triage.store.sql.base import first_submission_columns
from triage.store.sql.outbox import SqlOutbox
from triage.store.tables import parked_referrals, referrals, sink_cursors


class SqlParked(SqlOutbox):
    """Park, list, requeue and settle referrals a sink's receiver refused."""

    @staticmethod
    async def _referral_by_id(conn: AsyncConnection, referral_id: str) -> Referral:
        # With the report it is tied to, as `list_referrals` gives it.
        query = select(referrals, *first_submission_columns(referrals.c.media_id))
        row = (await conn.execute(query.where(referrals.c.id == referral_id))).first()
        if row is None:
            raise NotFound(f"no referral {referral_id}")
        return rows.referral(row._mapping)

    @staticmethod
    def _parked(row: Any, referral: Referral) -> ParkedReferral:
        return ParkedReferral(
            sink=row["sink"],
            referral=referral,
            state=ParkedState(row["state"]),
            refusals=row["refusals"],
            last_error=row["last_error"],
            parked_at=row["parked_at"],
            updated_at=row["updated_at"],
        )

    async def park_referral(
        self, sink: str, referral_id: str, *, error: str, refusals: int
    ) -> ParkedReferral:
        async with self._tx() as conn:
            referral = await self._referral_by_id(conn, referral_id)
            now = self._now()
            key = (
                parked_referrals.c.sink == sink,
                parked_referrals.c.referral_seq == referral.cursor,
            )
            values = {
                "state": ParkedState.PARKED.value,
                "refusals": refusals,
                "last_error": error,
                "updated_at": now,
            }
            changed = await conn.execute(update(parked_referrals).where(*key).values(values))
            if changed.rowcount == 0:
                await conn.execute(
                    insert(parked_referrals).values(
                        sink=sink, referral_seq=referral.cursor, parked_at=now, **values
                    )
                )
            await self._move_cursor(conn, sink, referral.cursor)
            row = (await conn.execute(select(parked_referrals).where(*key))).one()
            return self._parked(row._mapping, referral)

    @staticmethod
    async def _move_cursor(conn: AsyncConnection, sink: str, cursor: int) -> None:
        stored = await conn.scalar(
            select(sink_cursors.c.cursor).where(sink_cursors.c.sink == sink).with_for_update()
        )
        if stored is None:
            await conn.execute(insert(sink_cursors).values(sink=sink, cursor=cursor))
        elif cursor > stored:
            await conn.execute(
                update(sink_cursors).where(sink_cursors.c.sink == sink).values(cursor=cursor)
            )

    async def list_parked_referrals(
        self,
        *,
        sink: str | None = None,
        states: Collection[ParkedState] | None = None,
        limit: int = 100,
    ) -> list[ParkedReferral]:
        wanted = rules.WAITING_PARKED_STATES if states is None else frozenset(states)
        query = (
            select(parked_referrals, referrals, *first_submission_columns(referrals.c.media_id))
            .join(referrals, referrals.c.seq == parked_referrals.c.referral_seq)
            .where(parked_referrals.c.state.in_([s.value for s in wanted]))
            .order_by(parked_referrals.c.referral_seq, parked_referrals.c.sink)
            .limit(limit)
        )
        if sink is not None:
            query = query.where(parked_referrals.c.sink == sink)
        async with self._tx(read_only=True) as conn:
            found = []
            for row in await conn.execute(query):
                mapping = row._mapping
                found.append(self._parked(mapping, rows.referral(mapping)))
            return found

    async def requeue_parked_referral(self, referral_id: str) -> list[ParkedReferral]:
        async with self._tx() as conn:
            referral = await self._referral_by_id(conn, referral_id)
            of_referral = parked_referrals.c.referral_seq == referral.cursor
            found = [
                self._parked(row._mapping, referral)
                for row in await conn.execute(
                    select(parked_referrals).where(of_referral).with_for_update()
                )
            ]
            rules.check_parked_found(referral_id, found)
            changed = await conn.execute(
                update(parked_referrals)
                .where(of_referral, parked_referrals.c.state == ParkedState.PARKED.value)
                .values(state=ParkedState.REQUEUED.value, updated_at=self._now())
                .returning(*parked_referrals.c)
            )
            return [self._parked(row._mapping, referral) for row in changed]

    async def settle_parked_referral(self, sink: str, referral_id: str) -> ParkedReferral:
        async with self._tx() as conn:
            referral = await self._referral_by_id(conn, referral_id)
            key = (
                parked_referrals.c.sink == sink,
                parked_referrals.c.referral_seq == referral.cursor,
            )
            row = (
                await conn.execute(select(parked_referrals).where(*key).with_for_update())
            ).first()
            if row is None:
                raise NotFound(f"referral {referral_id} was never parked at sink {sink}")
            rules.check_requeued(self._parked(row._mapping, referral))
            settled = (
                await conn.execute(
                    update(parked_referrals)
                    .where(*key)
                    .values(state=ParkedState.DELIVERED.value, updated_at=self._now())
                    .returning(*parked_referrals.c)
                )
            ).one()
            return self._parked(settled._mapping, referral)
