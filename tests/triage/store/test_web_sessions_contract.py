"""The contract of `WebSessions`, sign-in sessions of the pages: their lifetime, sign-out and
revocation.

Every test runs on memory, SQLite and PostgreSQL (the `store` fixture)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.triage.store.backends import FakeClock
from triage.errors import NotFound
from triage.models import (
    Scope,
)
from triage.store import Store


async def test_a_session_lives_until_it_expires(store: Store, clock: FakeClock) -> None:
    key = await store.create_api_key("alice", [Scope.REVIEW], "d" * 64)
    made = await store.create_web_session("s" * 64, key.id, csrf_token="t", lifetime_seconds=60)
    found = await store.find_web_session("s" * 64)
    assert found is not None and found.key.id == key.id and found.csrf_token == "t"
    assert found.expires_at == made.expires_at == clock() + timedelta(seconds=60)
    clock.advance(61)
    assert await store.find_web_session("s" * 64) is None


async def test_a_session_ends_on_sign_out_and_on_revocation(store: Store, clock: FakeClock) -> None:
    key = await store.create_api_key("alice", [Scope.REVIEW], "d" * 64)
    await store.create_web_session("a" * 64, key.id, csrf_token="t", lifetime_seconds=600)
    await store.create_web_session("b" * 64, key.id, csrf_token="u", lifetime_seconds=600)
    await store.end_web_session("a" * 64)
    await store.end_web_session("a" * 64)  # twice is fine
    assert await store.find_web_session("a" * 64) is None
    assert await store.find_web_session("b" * 64) is not None
    await store.revoke_api_key(key.id)
    assert await store.find_web_session("b" * 64) is None
    with pytest.raises(NotFound):
        await store.create_web_session("c" * 64, key.id, csrf_token="v", lifetime_seconds=600)
