"""API keys: stored by the digest of their token, found, listed and revoked."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Protocol

from triage.models import ApiKey, Scope


class ApiKeys(Protocol):
    """The keys that authenticate callers (`triage keys`, the API's bearer tokens)."""

    async def create_api_key(
        self,
        name: str,
        scopes: Collection[Scope],
        digest: str,
        *,
        hosts: Sequence[str] | None = None,
    ) -> ApiKey:
        """Store a key by the SHA-256 `digest` of its token (`ApiKey.digest(token)`).

        `hosts` limits a read key to matches and referrals on those hosts. Raises `Conflict`
        if the digest is already stored, `InvalidInput` without scopes.
        """

    async def find_active_api_key(self, digest: str) -> ApiKey | None:
        """The unrevoked key with this digest, or None (unknown or revoked)."""

    async def list_api_keys(self) -> list[ApiKey]:
        """Every key, revoked ones included, oldest first."""

    async def revoke_api_key(self, key_id: str) -> ApiKey:
        """Revoke a key from now on; revoking twice keeps the first time. `NotFound`."""
