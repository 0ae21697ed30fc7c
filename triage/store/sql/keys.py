"""API keys in SQL: stored by digest, revoked but never deleted."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import insert, select, update

from triage.errors import Conflict, NotFound
from triage.models import ApiKey, Scope
from triage.store import rows, rules
from triage.store.sql.base import SqlBase
from triage.store.tables import api_keys


class SqlKeys(SqlBase):
    """API key operations."""

    async def create_api_key(
        self,
        name: str,
        scopes: Collection[Scope],
        digest: str,
        *,
        hosts: Sequence[str] | None = None,
    ) -> ApiKey:
        rules.check_key_scopes(scopes)
        values = {
            "id": rules.new_id("key"),
            "name": name,
            "digest": digest,
            "scopes": rows.encode_scopes(scopes),
            "hosts": list(hosts) if hosts is not None else None,
            "created_at": self._now(),
            "revoked_at": None,
        }
        try:
            async with self._tx() as conn:
                await conn.execute(insert(api_keys).values(values))
        except Conflict as exc:
            raise Conflict("a key with this digest already exists") from exc
        return rows.api_key(values)

    async def find_active_api_key(self, digest: str) -> ApiKey | None:
        async with self._tx(read_only=True) as conn:
            row = (
                await conn.execute(
                    select(api_keys).where(
                        api_keys.c.digest == digest, api_keys.c.revoked_at.is_(None)
                    )
                )
            ).first()
        return rows.api_key(row._mapping) if row is not None else None

    async def list_api_keys(self) -> list[ApiKey]:
        async with self._tx(read_only=True) as conn:
            result = await conn.execute(
                select(api_keys).order_by(api_keys.c.created_at, api_keys.c.id)
            )
            return [rows.api_key(row._mapping) for row in result]

    async def revoke_api_key(self, key_id: str) -> ApiKey:
        async with self._tx() as conn:
            await conn.execute(
                update(api_keys)
                .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=self._now())
            )
            row = (await conn.execute(select(api_keys).where(api_keys.c.id == key_id))).first()
        if row is None:
            raise NotFound(f"no key {key_id}")
        return rows.api_key(row._mapping)
