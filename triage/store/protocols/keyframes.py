"""Keyframes: small JPEGs of references and of matched queries, shown to reviewers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from triage.models import Keyframe, KeyframeInfo


class Keyframes(Protocol):
    """Keyframes of media and references, and their retention."""

    async def put_keyframes(self, keyframes: Sequence[Keyframe]) -> None:
        """Store keyframes; one at the same owner and time replaces the one stored."""

    async def list_keyframes(self, owner_id: str) -> list[KeyframeInfo]:
        """The keyframes of a media or reference, by time (no bytes)."""

    async def get_keyframe(self, owner_id: str, timestamp_millis: int) -> Keyframe:
        """One keyframe with its JPEG. `NotFound`."""

    async def delete_query_keyframes_before(self, before: datetime) -> int:
        """Drop keyframes of queries (not of references) stored before `before`: the
        retention of `keyframes.query_retention_days`. Returns how many were dropped."""
