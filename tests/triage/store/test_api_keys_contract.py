"""The contract of `ApiKeys`, API keys: found by the digest of their token, listed, revoked.

Every test runs on memory, SQLite and PostgreSQL (the `store` fixture)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.triage.store.backends import FakeClock
from triage.errors import Conflict, InvalidInput, NotFound
from triage.models import (
    ApiKey,
    Scope,
    new_api_key_token,
)
from triage.store.protocols import ApiKeys


async def test_key_is_found_by_digest_of_its_token(store: ApiKeys) -> None:
    token = new_api_key_token()
    created = await store.create_api_key(
        "moderation", {Scope.SUBMIT, Scope.READ}, ApiKey.digest(token)
    )
    found = await store.find_active_api_key(ApiKey.digest(token))
    assert found == created
    assert found is not None and found.scopes == {Scope.SUBMIT, Scope.READ}
    assert await store.find_active_api_key(ApiKey.digest(token + "x")) is None


async def test_revoked_key_is_no_longer_found_but_still_listed(
    store: ApiKeys, clock: FakeClock
) -> None:
    digest = ApiKey.digest(new_api_key_token())
    key = await store.create_api_key("old", {Scope.ADMIN}, digest)
    clock.advance(5)
    revoked = await store.revoke_api_key(key.id)
    clock.advance(5)
    again = await store.revoke_api_key(key.id)
    assert revoked.revoked_at == clock.now - timedelta(seconds=5)
    assert again.revoked_at == revoked.revoked_at
    assert await store.find_active_api_key(digest) is None
    assert [k.id for k in await store.list_api_keys()] == [key.id]


async def test_platform_key_keeps_its_hosts(store: ApiKeys) -> None:
    digest = ApiKey.digest(new_api_key_token())
    await store.create_api_key("platform", {Scope.READ}, digest, hosts=["example.com", "b.org"])
    found = await store.find_active_api_key(digest)
    assert found is not None and found.hosts == ("example.com", "b.org")


async def test_same_digest_twice_conflicts(store: ApiKeys) -> None:
    digest = ApiKey.digest(new_api_key_token())
    await store.create_api_key("a", {Scope.READ}, digest)
    with pytest.raises(Conflict):
        await store.create_api_key("b", {Scope.READ}, digest)


async def test_key_without_scopes_is_refused(store: ApiKeys) -> None:
    with pytest.raises(InvalidInput):
        await store.create_api_key("none", set(), ApiKey.digest("t"))


async def test_revoking_unknown_key_is_not_found(store: ApiKeys) -> None:
    with pytest.raises(NotFound):
        await store.revoke_api_key("key_missing")
