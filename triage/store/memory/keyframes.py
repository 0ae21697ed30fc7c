"""Keyframes in memory: small JPEGs of references and matched queries, for reviewers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from triage.errors import NotFound
from triage.models import Keyframe, KeyframeInfo
from triage.store.memory.base import MemoryBase


class MemoryKeyframes(MemoryBase):
    """Keyframes by owner and time, and the retention of query keyframes."""

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
