"""The audit log in memory: entries appended in cursor order, never changed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from triage.models import (
    AuditEntry,
)
from triage.store.memory.base import MemoryBase


class MemoryAudit(MemoryBase):
    """Audit entries: who did what, to what."""

    async def append_audit(
        self,
        *,
        actor: str,
        action: str,
        target: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> AuditEntry:
        entry = AuditEntry(
            cursor=self._next("audit"),
            at=self._now(),
            actor=actor,
            action=action,
            target=target,
            details=dict(details or {}),
        )
        self._audit.append(entry)
        return entry

    async def list_audit(self, *, after: int = 0, limit: int = 100) -> list[AuditEntry]:
        return [entry for entry in self._audit if entry.cursor > after][:limit]
