"""Keyframes in SQL: small JPEGs of references and matched queries, for reviewers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from triage.errors import NotFound
from triage.models import Keyframe, KeyframeInfo
from triage.store.sql.base import SqlBase
from triage.store.tables import keyframes


class SqlKeyframes(SqlBase):
    """Keyframes by owner and time, and the retention of query keyframes."""

    async def put_keyframes(self, frames: Sequence[Keyframe]) -> None:
        if not frames:
            return
        now = self._now()
        async with self._tx() as conn:
            for frame in frames:
                await _delete_keyframe(conn, frame.owner_id, frame.timestamp_millis)
            await conn.execute(
                insert(keyframes),
                [
                    {
                        "owner_id": f.owner_id,
                        "timestamp_millis": f.timestamp_millis,
                        "of_reference": f.of_reference,
                        "jpeg": f.jpeg,
                        "created_at": now,
                    }
                    for f in frames
                ],
            )

    async def list_keyframes(self, owner_id: str) -> list[KeyframeInfo]:
        query = (
            select(
                keyframes.c.timestamp_millis,
                func.length(keyframes.c.jpeg).label("size_bytes"),
            )
            .where(keyframes.c.owner_id == owner_id)
            .order_by(keyframes.c.timestamp_millis)
        )
        async with self._tx(read_only=True) as conn:
            return [
                KeyframeInfo(owner_id=owner_id, timestamp_millis=millis, size_bytes=int(size))
                for millis, size in await conn.execute(query)
            ]

    async def get_keyframe(self, owner_id: str, timestamp_millis: int) -> Keyframe:
        async with self._tx(read_only=True) as conn:
            row = (
                await conn.execute(
                    select(keyframes).where(
                        keyframes.c.owner_id == owner_id,
                        keyframes.c.timestamp_millis == timestamp_millis,
                    )
                )
            ).first()
        if row is None:
            raise NotFound(f"no keyframe of {owner_id} at {timestamp_millis} ms")
        return Keyframe(
            owner_id=row.owner_id,
            of_reference=bool(row.of_reference),
            timestamp_millis=int(row.timestamp_millis),
            jpeg=bytes(row.jpeg),
        )

    async def delete_query_keyframes_before(self, before: datetime) -> int:
        async with self._tx() as conn:
            result = await conn.execute(
                delete(keyframes).where(
                    keyframes.c.of_reference.is_(False), keyframes.c.created_at < before
                )
            )
        return int(result.rowcount or 0)


async def _delete_keyframe(conn: AsyncConnection, owner_id: str, timestamp_millis: int) -> None:
    await conn.execute(
        delete(keyframes).where(
            and_(keyframes.c.owner_id == owner_id, keyframes.c.timestamp_millis == timestamp_millis)
        )
    )
