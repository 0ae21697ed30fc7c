"""What the pages keep in SQL: sign-in sessions and keyframes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from triage.errors import Conflict, NotFound
from triage.models import ApiKey, Keyframe, KeyframeInfo, WebSession
from triage.store import rows
from triage.store.sql.base import SqlBase
from triage.store.tables import api_keys, keyframes, web_sessions


class SqlPages(SqlBase):
    """Sessions of signed-in browsers, and the keyframes reviewers look at."""

    async def create_web_session(
        self, digest: str, key_id: str, *, csrf_token: str, lifetime_seconds: float
    ) -> WebSession:
        now = self._now()
        try:
            async with self._tx() as conn:
                key_row = (
                    await conn.execute(
                        select(api_keys).where(
                            api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None)
                        )
                    )
                ).first()
                if key_row is None:
                    raise NotFound(f"no active key {key_id}")
                # Expired sessions are of no use: each sign-in sweeps them away.
                await conn.execute(delete(web_sessions).where(web_sessions.c.expires_at <= now))
                values = {
                    "digest": digest,
                    "key_id": key_id,
                    "csrf_token": csrf_token,
                    "created_at": now,
                    "expires_at": now + timedelta(seconds=lifetime_seconds),
                }
                await conn.execute(insert(web_sessions).values(values))
        except Conflict as exc:
            raise Conflict("a session with this digest already exists") from exc
        return _session(values, rows.api_key(key_row._mapping))

    async def find_web_session(self, digest: str) -> WebSession | None:
        query = (
            select(web_sessions, api_keys)
            .join(api_keys, api_keys.c.id == web_sessions.c.key_id)
            .where(
                web_sessions.c.digest == digest,
                web_sessions.c.expires_at > self._now(),
                api_keys.c.revoked_at.is_(None),
            )
        )
        async with self._tx(read_only=True) as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        mapping = row._mapping
        key = rows.api_key({c.name: mapping[c] for c in api_keys.c})
        return _session({c.name: mapping[c] for c in web_sessions.c}, key)

    async def end_web_session(self, digest: str) -> None:
        async with self._tx() as conn:
            await conn.execute(delete(web_sessions).where(web_sessions.c.digest == digest))

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


def _session(values: rows.Row, key: ApiKey) -> WebSession:
    return WebSession.model_validate(
        {
            "digest": values["digest"],
            "key": key,
            "csrf_token": values["csrf_token"],
            "created_at": values["created_at"],
            "expires_at": values["expires_at"],
        }
    )
