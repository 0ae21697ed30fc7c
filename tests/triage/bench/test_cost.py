from __future__ import annotations

import multiprocessing
import subprocess
import time
from collections.abc import Callable
from multiprocessing.synchronize import Event as EventType
from pathlib import Path

import pytest

from triage.bench.cost import Cost, Stopwatch, cpu_seconds_now, decode_floor

BURN_SECONDS = 0.4
# /proc counts in clock ticks (10 ms), and reading /proc costs this process a little CPU too.
SLACK_SECONDS = 0.05
_FORK = multiprocessing.get_context("fork")


def _burn(seconds: float) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def _burn_then_wait(burnt: EventType, release: EventType) -> None:
    _burn(BURN_SECONDS)
    burnt.set()
    release.wait()


def _child_of_a_child(burnt: EventType, release: EventType) -> None:
    grandchild = _FORK.Process(target=_burn_then_wait, args=(burnt, release))
    grandchild.start()
    grandchild.join()


def _reap_a_child_then_wait(burnt: EventType, release: EventType) -> None:
    grandchild = _FORK.Process(target=_burn, args=(BURN_SECONDS,))
    grandchild.start()
    grandchild.join()
    burnt.set()
    release.wait()


@pytest.mark.parametrize(
    "worker",
    [_burn_then_wait, _child_of_a_child, _reap_a_child_then_wait],
    ids=["live child", "live grandchild", "live child that reaped its child"],
)
def test_cpu_of_live_descendants_is_counted_once(
    worker: Callable[[EventType, EventType], None],
) -> None:
    burnt, release = _FORK.Event(), _FORK.Event()
    before = cpu_seconds_now()
    process = _FORK.Process(target=worker, args=(burnt, release))
    process.start()
    try:
        assert burnt.wait(60), "the worker never finished burning"
        # Not reaped yet, so only the walk over live descendants can count the burn.
        while_alive = cpu_seconds_now() - before
        assert process.is_alive()
    finally:
        release.set()
        process.join(60)
    after_reaping = cpu_seconds_now() - before
    assert while_alive >= BURN_SECONDS - SLACK_SECONDS
    # Reaped, it moves from the live walk to this process's children: counted once, not twice.
    # The upper bound leaves room for the worker's own work around the burn (forking, waiting,
    # reaping: 0.06 s seen on a busy machine) and still fails on a burn counted twice.
    assert BURN_SECONDS - SLACK_SECONDS <= after_reaping <= while_alive + BURN_SECONDS / 2


def test_stopwatch_accumulates_blocks() -> None:
    watch = Stopwatch()
    for _ in range(2):
        with watch.timing():
            _burn(0.05)
    assert 0.09 <= watch.total.cpu_seconds <= 0.3
    assert watch.total.wall_seconds >= watch.total.cpu_seconds * 0.5


def test_ratio_is_none_without_a_floor() -> None:
    ratio = Cost(1.0, 2.0).ratio_to(Cost(0.0, 4.0))
    assert ratio.cpu is None and ratio.wall == 0.5


@pytest.mark.media
def test_decode_floor_counts_the_ffmpeg_child(tmp_path: Path) -> None:
    clip = tmp_path / "clip.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=s=640x360:r=30:d=3",
         "-c:v", "libx264", "-preset", "veryfast", str(clip)],
        check=True,
    )  # fmt: skip
    floor = decode_floor([clip])
    assert floor.cpu_seconds > 0.0
    assert floor.wall_seconds > 0.0
