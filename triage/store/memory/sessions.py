"""Sign-in sessions of the pages, in memory."""

from __future__ import annotations

from datetime import timedelta

from triage.errors import Conflict, NotFound
from triage.models import WebSession
from triage.store.memory.base import MemoryBase


class MemorySessions(MemoryBase):
    """Sessions of browsers signed in with an API key."""

    async def create_web_session(
        self, digest: str, key_id: str, *, csrf_token: str, lifetime_seconds: float
    ) -> WebSession:
        key = self._keys.get(key_id)
        if key is None or not key.active:
            raise NotFound(f"no active key {key_id}")
        if digest in self._web_sessions:
            raise Conflict("a session with this digest already exists")
        now = self._now()
        # Expired sessions are of no use: each sign-in sweeps them away.
        for expired in [d for d, s in self._web_sessions.items() if s.expires_at <= now]:
            del self._web_sessions[expired]
        session = WebSession(
            digest=digest,
            key=key,
            csrf_token=csrf_token,
            created_at=now,
            expires_at=now + timedelta(seconds=lifetime_seconds),
        )
        self._web_sessions[digest] = session
        return session

    async def find_web_session(self, digest: str) -> WebSession | None:
        session = self._web_sessions.get(digest)
        if session is None or session.expires_at <= self._now():
            return None
        key = self._keys[session.key.id]
        if not key.active:
            return None
        return session.model_copy(update={"key": key})

    async def end_web_session(self, digest: str) -> None:
        self._web_sessions.pop(digest, None)
