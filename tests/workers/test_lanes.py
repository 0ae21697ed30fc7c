"""The lane of a media job once its media is on disk: size, then duration from headers."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from triage.config import JobSettings
from triage.models import Job, JobKind, JobLane, JobState
from workers.lanes import check_lane, duration_seconds
from workers.runner import LongMedia


@pytest.fixture(scope="module")
def three_seconds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("lanes") / "three.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=s=160x90:r=10",
         "-t", "3", "-pix_fmt", "yuv420p", str(out)],
        check=True,
    )  # fmt: skip
    return out


def _job(lane: JobLane = JobLane.SHORT) -> Job:
    now = datetime.now(UTC)
    return Job(
        id="job_1",
        kind=JobKind.PROCESS_MEDIA,
        target_id="med_1",
        state=JobState.FETCHING,
        attempts=1,
        max_attempts=5,
        run_after=now,
        created_at=now,
        updated_at=now,
        lane=lane,
    )


def test_the_duration_comes_from_the_headers(three_seconds: Path, tmp_path: Path) -> None:
    seconds = duration_seconds(three_seconds)
    assert seconds is not None and 2.9 <= seconds <= 3.1
    not_video = tmp_path / "page.html"
    not_video.write_text("<html></html>")
    assert duration_seconds(not_video) is None


async def test_media_longer_than_the_limit_leaves_the_short_lane(three_seconds: Path) -> None:
    size = three_seconds.stat().st_size
    with pytest.raises(LongMedia, match="3 s"):
        await check_lane(_job(), three_seconds, size, JobSettings(long_media_seconds=2.0))
    await check_lane(_job(), three_seconds, size, JobSettings(long_media_seconds=10.0))


async def test_a_large_file_leaves_the_short_lane_without_being_read(tmp_path: Path) -> None:
    unread = tmp_path / "never-opened.mp4"  # does not exist: the size alone decides
    with pytest.raises(LongMedia, match="2000 bytes"):
        await check_lane(_job(), unread, 2000, JobSettings(long_media_bytes=1000))


async def test_an_announced_duration_counts(tmp_path: Path) -> None:
    with pytest.raises(LongMedia, match="7200 s"):
        await check_lane(_job(), tmp_path / "x.mp4", 10, JobSettings(), announced_seconds=7200.0)


async def test_nothing_moves_on_the_long_lane_or_without_long_slots(three_seconds: Path) -> None:
    size = three_seconds.stat().st_size
    await check_lane(_job(JobLane.LONG), three_seconds, size, JobSettings(long_media_seconds=1))
    no_long_slots = JobSettings(long_media_seconds=1, long_lane_slots=0)
    await check_lane(_job(), three_seconds, size, no_long_slots)
