"""Sign-in sessions of the pages: a browser signed in with an API key."""

from __future__ import annotations

from typing import Protocol

from triage.models import WebSession


class WebSessions(Protocol):
    """Web sessions, stored by the digest of their token."""

    async def create_web_session(
        self, digest: str, key_id: str, *, csrf_token: str, lifetime_seconds: float
    ) -> WebSession:
        """A session of an active key, stored by the SHA-256 `digest` of its token, valid for
        `lifetime_seconds`. `NotFound` for an unknown or revoked key; `Conflict` for a digest
        already stored."""

    async def find_web_session(self, digest: str) -> WebSession | None:
        """The session, None once it has expired or ended or its key has been revoked."""

    async def end_web_session(self, digest: str) -> None:
        """Sign out: the session is no longer found (ending twice, or an unknown one, is fine)."""
