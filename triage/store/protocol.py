"""The whole store: the union of the per-concern protocols (`triage.store.protocols`), with
its lifecycle.

Implementations: `memory.MemoryStore` (in-process; tests and `memory://`) and
`sql.SqlStore` (SQLite and PostgreSQL through SQLAlchemy, one Alembic history). Every
implementation passes the contract suite of each protocol. Methods raise `NotFound`,
`Conflict` (or its `LeaseLost`), `InvalidInput` and `StoreError` from `triage.errors`; nothing
driver-specific leaks out.

Times are taken from the store's clock (injectable for tests); leases and backoff are relative
to it. A store is given its `JobPolicy` (attempts, backoff, lease) when it is opened: every job
it creates, fails or leases follows that policy.

Depend on `Store` only where everything is needed (the composition root, the API, backups);
elsewhere on the protocols of the concerns used.
"""

from __future__ import annotations

from typing import Protocol

from triage.store.protocols import (
    ApiKeys,
    AuditLog,
    HashList,
    JobQueue,
    Keyframes,
    Outbox,
    ReviewQueue,
    Submissions,
    WebSessions,
)


class Store(
    ApiKeys,
    HashList,
    Submissions,
    JobQueue,
    Outbox,
    ReviewQueue,
    AuditLog,
    WebSessions,
    Keyframes,
    Protocol,
):
    """Everything the service keeps, and the store's own lifecycle."""

    async def migrate(self) -> None:
        """Bring the schema to the newest version; a no-op when it is already there."""

    async def close(self) -> None:
        """Release connections. The store is unusable afterwards."""

    async def ping(self) -> None:
        """Raise `StoreError` unless the database answers (for `/readyz`)."""


__all__ = ["Store"]
