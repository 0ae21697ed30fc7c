"""The hashing pool: steps run in limited children that die, overrun or go away alone."""

from __future__ import annotations

import asyncio
import os
import resource
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hashes.types import MediaError
from tests.workers import hostile_hooks
from triage.config import GiB, HashingSettings, MiB
from workers.hashing.pool import ChildFailure, HashingPool, StepReport, child_limits

DEADLINE_SECONDS = 3.0


def _settings(memory_bytes: int = 2 * GiB, per_media_second: float = 0.0) -> HashingSettings:
    return HashingSettings(
        deadline_base_seconds=DEADLINE_SECONDS,
        deadline_seconds_per_media_second=per_media_second,
        memory_bytes=memory_bytes,
    )


def running(pid: int) -> bool:
    """Whether `pid` is a live process (a zombie waiting for its reaper is not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


async def gone_within(pid: int, seconds: float) -> bool:
    ends = time.monotonic() + seconds
    while running(pid) and time.monotonic() < ends:
        await asyncio.sleep(0.1)
    return not running(pid)


@pytest.fixture
async def steps() -> list[StepReport]:
    return []


@pytest.fixture
async def pool(steps: list[StepReport]) -> AsyncIterator[HashingPool]:
    made = HashingPool(_settings(), 1, observer=steps.append)
    yield made
    await made.close()


async def test_a_step_runs_in_a_child_process(pool: HashingPool) -> None:
    assert await pool.run(hostile_hooks.own_pid, None) != os.getpid()


async def test_limits_apply_to_the_child_only(pool: HashingPool) -> None:
    limits = await pool.run(hostile_hooks.own_limits, None)
    assert limits["address_space"] == (2 * GiB, 2 * GiB)
    assert limits["open_files"] == (64, 64)
    assert resource.getrlimit(resource.RLIMIT_AS) != (2 * GiB, 2 * GiB)


async def test_the_steps_own_error_is_raised_here_and_the_child_kept(
    pool: HashingPool, steps: list[StepReport]
) -> None:
    before = await pool.run(hostile_hooks.own_pid, None)
    with pytest.raises(MediaError, match="not media at all"):
        await pool.run(hostile_hooks.bad_media, Path("x.mp4"))
    assert await pool.run(hostile_hooks.own_pid, None) == before
    assert [step.outcome for step in steps] == ["done", "raised", "done"]


async def test_a_child_killed_mid_step_fails_that_step_and_is_replaced(
    pool: HashingPool,
) -> None:
    before = await pool.run(hostile_hooks.own_pid, None)
    with pytest.raises(ChildFailure) as failure:
        await pool.run(hostile_hooks.die, None)
    assert failure.value.reason == "decoder_crashed"
    assert "SIGKILL" in failure.value.detail
    after = await pool.run(hostile_hooks.own_pid, None)
    assert after != before and pool.ready


async def test_a_hung_step_times_out_at_its_deadline_and_the_child_is_replaced(
    pool: HashingPool,
) -> None:
    before = await pool.run(hostile_hooks.own_pid, None)
    started = time.monotonic()
    with pytest.raises(ChildFailure) as failure:
        await pool.run(hostile_hooks.hang, None)
    took = time.monotonic() - started
    assert failure.value.reason == "timeout"
    assert DEADLINE_SECONDS <= took < DEADLINE_SECONDS + 5
    assert not running(before)
    assert await pool.run(hostile_hooks.own_pid, None) != before


def test_a_steps_deadline_grows_with_the_media_up_to_its_ceiling() -> None:
    limits = child_limits(
        HashingSettings(
            deadline_base_seconds=60,
            deadline_seconds_per_media_second=10,
            deadline_max_seconds=3600,
        )
    )
    assert limits.deadline_seconds(0) == 60
    assert limits.deadline_seconds(30) == 360
    assert limits.deadline_seconds(7200) == 3600


async def test_a_hung_step_on_a_video_gets_the_deadline_of_its_length(tmp_path: Path) -> None:
    clip = tmp_path / "clip.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=s=64x64:r=25", "-t", "3",
         str(clip)],
        check=True,
    )  # fmt: skip
    pool = HashingPool(_settings(per_media_second=2.0), 1)
    try:
        await pool.start()
        started = time.monotonic()
        with pytest.raises(ChildFailure, match="longer than 9 s"):
            await pool.run(hostile_hooks.hang, clip)
        assert 9 <= time.monotonic() - started < 14
    finally:
        await pool.close()


async def test_a_child_that_died_while_idle_is_replaced_before_the_next_step(
    pool: HashingPool,
) -> None:
    before = await pool.run(hostile_hooks.own_pid, None)
    os.kill(before, 9)
    assert await gone_within(before, 10)
    assert await pool.run(hostile_hooks.own_pid, None) != before


async def test_a_cancelled_step_takes_its_child_down(pool: HashingPool) -> None:
    child = await pool.run(hostile_hooks.own_pid, None)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(pool.run(hostile_hooks.hang, None), timeout=0.5)
    assert await gone_within(child, 10)


async def test_a_pool_whose_children_cannot_start_is_not_ready() -> None:
    # Python with numpy, OpenCV and PyAV does not load in 256 MiB of address space.
    pool = HashingPool(_settings(memory_bytes=256 * MiB), 1)
    try:
        await pool.start()
        assert not pool.ready
        with pytest.raises(ChildFailure) as failure:
            await pool.run(hostile_hooks.own_pid, None)
        assert failure.value.reason == "worker_pool"
    finally:
        await pool.close()
