"""The audit log in SQL: entries appended in cursor order, never changed; other concerns
append theirs inside their own transaction (`_append_audit`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from triage.models import (
    AuditEntry,
)
from triage.store import rows
from triage.store.sql.base import SqlBase
from triage.store.tables import (
    audit_log,
)


class SqlAudit(SqlBase):
    """Audit entries: who did what, to what."""

    async def _append_audit(
        self,
        conn: AsyncConnection,
        *,
        actor: str,
        action: str,
        target: str | None,
        details: Mapping[str, Any] | None,
    ) -> AuditEntry:
        values = {
            "seq": await self._next(conn, "audit"),
            "at": self._now(),
            "actor": actor,
            "action": action,
            "target": target,
            "details": dict(details or {}),
        }
        await conn.execute(insert(audit_log).values(values))
        return rows.audit_entry(values)

    async def append_audit(
        self,
        *,
        actor: str,
        action: str,
        target: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> AuditEntry:
        async with self._tx() as conn:
            return await self._append_audit(
                conn, actor=actor, action=action, target=target, details=details
            )

    async def list_audit(self, *, after: int = 0, limit: int = 100) -> list[AuditEntry]:
        query = (
            select(audit_log).where(audit_log.c.seq > after).order_by(audit_log.c.seq).limit(limit)
        )
        async with self._tx(read_only=True) as conn:
            return [rows.audit_entry(row._mapping) for row in await conn.execute(query)]
