"""Sign-in sessions of the pages, in SQL."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, insert, select

from triage.errors import Conflict, NotFound
from triage.models import ApiKey, WebSession
from triage.store import rows
from triage.store.sql.base import SqlBase
from triage.store.tables import api_keys, web_sessions


class SqlSessions(SqlBase):
    """Sessions of browsers signed in with an API key."""

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
