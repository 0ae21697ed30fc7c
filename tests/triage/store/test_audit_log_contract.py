"""The contract of `AuditLog`, the audit log: appended in order, paged by cursor.

Every test runs on memory, SQLite and PostgreSQL (the `store` fixture)."""

from __future__ import annotations

from tests.triage.store.backends import FakeClock
from triage.store.protocols import AuditLog


async def test_audit_log_appends_in_order_and_pages(store: AuditLog, clock: FakeClock) -> None:
    first = await store.append_audit(
        actor="key_admin", action="key.create", target="key_2", details={"scopes": ["read"]}
    )
    clock.advance(1)
    second = await store.append_audit(actor="key_admin", action="key.revoke", target="key_2")
    assert second.cursor > first.cursor
    assert await store.list_audit() == [first, second]
    assert await store.list_audit(after=first.cursor) == [second]
    assert first.details == {"scopes": ["read"]} and second.details == {}
    assert second.at == clock.now
