"""What the pages keep in memory: sign-in sessions and keyframes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from triage.errors import Conflict, NotFound
from triage.models import Keyframe, KeyframeInfo, WebSession
from triage.store.memory.base import MemoryBase


class MemoryPages(MemoryBase):
    """Sessions of signed-in browsers, and the keyframes reviewers look at."""

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

    async def put_keyframes(self, keyframes: Sequence[Keyframe]) -> None:
        now = self._now()
        for frame in keyframes:
            self._keyframes[(frame.owner_id, frame.timestamp_millis)] = (frame, now)

    async def list_keyframes(self, owner_id: str) -> list[KeyframeInfo]:
        return [
            KeyframeInfo(owner_id=owner_id, timestamp_millis=millis, size_bytes=len(frame.jpeg))
            for (owner, millis), (frame, _) in sorted(self._keyframes.items())
            if owner == owner_id
        ]

    async def get_keyframe(self, owner_id: str, timestamp_millis: int) -> Keyframe:
        stored = self._keyframes.get((owner_id, timestamp_millis))
        if stored is None:
            raise NotFound(f"no keyframe of {owner_id} at {timestamp_millis} ms")
        return stored[0]

    async def delete_query_keyframes_before(self, before: datetime) -> int:
        old = [
            place
            for place, (frame, stored_at) in self._keyframes.items()
            if not frame.of_reference and stored_at < before
        ]
        for place in old:
            del self._keyframes[place]
        return len(old)
