"""Keyframes for reviewers, cut in the hashing pool and kept in the store.

Queries: at the matched times, once the verdict is known to need a person or a referral (the
media is deleted afterwards). References: on a grid of `keyframes.reference_every_seconds`,
when an uploaded reference video is hashed (it is deleted afterwards). Failing to cut a
keyframe never fails the job: the verdict and the hashes are what matter.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from pathlib import Path

from hashes.keyframes import CutFrame, cut_keyframes, grid_timestamps
from hashes.types import HashError
from triage.config import KeyframeSettings
from triage.errors import TriageError
from triage.evidence import MatchEvidence
from triage.models import Keyframe, Verdict
from triage.store.protocols import Keyframes
from triage.store.rules import utc_now

_log = logging.getLogger(__name__)

# Matches and segments whose times are cut for a query, and points per segment.
MAX_MATCHES = 3
MAX_SEGMENTS = 4
POINTS_PER_SEGMENT = 3


def query_timestamps(matches: Sequence[MatchEvidence]) -> list[float]:
    """Query times worth showing: start, middle and end of the best matches' segments."""
    times: set[float] = set()
    for match in matches[:MAX_MATCHES]:
        for segment in match.segments[:MAX_SEGMENTS]:
            length = max(segment.query_end - segment.query_start, 0.0)
            for i in range(POINTS_PER_SEGMENT):
                share = (i + 0.5) / POINTS_PER_SEGMENT
                times.add(round(segment.query_start + share * length, 3))
    return sorted(times)


def to_millis(seconds: float) -> int:
    return round(seconds * 1000)


CutFunction = Callable[[Path], list[CutFrame]]
RunInHashingProcess = Callable[[CutFunction, Path], Awaitable[list[CutFrame]]]
"""Runs a function of a media file where media are decoded (the pipeline's hashing pool)."""


class KeyframeKeeper:
    """Cuts keyframes where media are decoded (`run`) and stores them."""

    def __init__(
        self, store: Keyframes, run: RunInHashingProcess, settings: KeyframeSettings
    ) -> None:
        self._store = store
        self._run = run
        self._settings = settings

    async def after_verdict(
        self, media_id: str, path: Path, verdict: Verdict, matches: Sequence[MatchEvidence]
    ) -> None:
        """Keep the query's frames at its matched times, for a verdict a person may check."""
        if verdict is Verdict.NONE or not matches:
            return
        await self._keep(media_id, path, query_timestamps(matches), of_reference=False)
        retention = timedelta(days=self._settings.query_retention_days)
        try:
            await self._store.delete_query_keyframes_before(utc_now() - retention)
        except TriageError as exc:
            _log.warning("keyframe retention failed: %s", exc)

    async def after_reference_hashed(
        self, reference_id: str, path: Path, duration_seconds: float
    ) -> None:
        """Keep the reference's frames on the grid, before its video is deleted."""
        times = grid_timestamps(duration_seconds, self._settings.reference_every_seconds)
        await self._keep(reference_id, path, times, of_reference=True)

    async def _keep(
        self, owner_id: str, path: Path, timestamps: list[float], *, of_reference: bool
    ) -> None:
        cut = functools.partial(
            cut_keyframes,
            timestamps=timestamps,
            max_side=self._settings.max_side_pixels,
            quality=self._settings.jpeg_quality,
        )
        try:
            frames = await self._run(cut, path)
            await self._store.put_keyframes(
                [
                    Keyframe(
                        owner_id=owner_id,
                        of_reference=of_reference,
                        timestamp_millis=to_millis(f.timestamp_seconds),
                        jpeg=f.jpeg,
                    )
                    for f in frames
                ]
            )
        except (HashError, TriageError, OSError) as exc:
            _log.warning("no keyframes for %s: %s", owner_id, exc)
