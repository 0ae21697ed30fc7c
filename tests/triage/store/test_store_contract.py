"""The contract of `Store`, the store as a whole: its lifecycle (migrations).

Every test runs on memory, SQLite and PostgreSQL (the `store` fixture)."""

from __future__ import annotations

from tests.triage.store.scenarios import (
    RECORD,
)
from triage.store import Store


async def test_migrate_twice_is_a_no_op(store: Store) -> None:
    await store.add_reference(label="a", source="s", added_by="k", hash_record=RECORD)
    await store.migrate()
    await store.migrate()
    assert len(await store.list_references()) == 1
    await store.ping()
