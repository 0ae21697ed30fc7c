"""API keys in memory."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from triage.errors import Conflict, NotFound
from triage.models import ApiKey, Scope
from triage.store import rules
from triage.store.memory.base import MemoryBase


class MemoryKeys(MemoryBase):
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
        if digest in self._key_by_digest:
            raise Conflict("a key with this digest already exists")
        key = ApiKey(
            id=rules.new_id("key"),
            name=name,
            scopes=frozenset(scopes),
            hosts=tuple(hosts) if hosts is not None else None,
            created_at=self._now(),
        )
        self._keys[key.id] = key
        self._key_by_digest[digest] = key.id
        return key

    async def find_active_api_key(self, digest: str) -> ApiKey | None:
        key_id = self._key_by_digest.get(digest)
        key = self._keys.get(key_id) if key_id is not None else None
        return key if key is not None and key.active else None

    async def list_api_keys(self) -> list[ApiKey]:
        return list(self._keys.values())

    async def revoke_api_key(self, key_id: str) -> ApiKey:
        key = self._keys.get(key_id)
        if key is None:
            raise NotFound(f"no key {key_id}")
        if key.revoked_at is None:
            key = key.model_copy(update={"revoked_at": self._now()})
            self._keys[key_id] = key
        return key
