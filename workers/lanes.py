"""The lane of a media job once its media is on disk: long media leaves the short lane.

Before the fetch only an upload's size is known (the API puts a large upload on the long lane
at once); after it, the size of the download and the duration in the container's headers
(or the one a post page announced) decide.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from hashes.decode import video_info
from hashes.types import HashError
from triage.config import JobSettings
from triage.models import Job, JobLane
from workers.runner import LongMedia


def duration_seconds(path: Path) -> float | None:
    """The duration in the media's headers; None for an image or what cannot be read (the
    hashing step then reports that properly)."""
    try:
        seconds = video_info(path).duration_seconds
    except (HashError, OSError):
        return None
    return seconds if seconds > 0 else None


async def check_lane(
    job: Job,
    path: Path,
    size_bytes: int,
    settings: JobSettings,
    *,
    announced_seconds: float | None = None,
) -> None:
    """Raise `LongMedia` when a short-lane job's media belongs on the long lane (only when
    workers keep long-lane slots: otherwise every slot takes every job anyway)."""
    if job.lane is JobLane.LONG or settings.long_lane_slots == 0:
        return
    seconds = announced_seconds
    if seconds is None and size_bytes <= settings.long_media_bytes:
        seconds = await asyncio.to_thread(duration_seconds, path)
    if settings.lane_for(size_bytes, seconds) is JobLane.LONG:
        shown = f"{seconds:.0f} s" if seconds is not None else "duration unknown"
        raise LongMedia(f"{size_bytes} bytes, {shown}")
