from __future__ import annotations

import multiprocessing
import subprocess
import time
from pathlib import Path

from triage.bench.cost import Cost, Stopwatch, cpu_seconds_now, decode_floor


def _burn(seconds: float) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def test_cpu_of_a_live_worker_process_is_counted() -> None:
    context = multiprocessing.get_context("fork")
    before = cpu_seconds_now()
    worker = context.Process(target=_burn, args=(0.4,))
    worker.start()
    time.sleep(0.1)
    # While it still runs, the reading must already include part of its work...
    while worker.is_alive() and cpu_seconds_now() - before < 0.2:
        time.sleep(0.02)
    assert cpu_seconds_now() - before >= 0.2 or not worker.is_alive()
    worker.join()
    # ...and once reaped it is counted in full, not twice.
    spent = cpu_seconds_now() - before
    assert 0.35 <= spent <= 0.8


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
