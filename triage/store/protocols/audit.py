"""The audit log: who did what, to what; appended, never changed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from triage.models import AuditEntry


class AuditLog(Protocol):
    """Append-only audit entries, paged by cursor."""

    async def append_audit(
        self,
        *,
        actor: str,
        action: str,
        target: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> AuditEntry:
        """Append one entry (who, what, to what); entries are never changed or removed."""

    async def list_audit(self, *, after: int = 0, limit: int = 100) -> list[AuditEntry]:
        """Audit entries with a cursor above `after`, oldest first."""
