"""CPU and wall seconds of a piece of work, and the decode floor it is compared with.

CPU seconds count this process (all threads), the children it has reaped, and the children
still alive (worker pools) with what they reaped in turn, so work done in worker processes
is counted whether or not the pool has shut down yet.
"""

from __future__ import annotations

import os
import resource
import subprocess
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

_PROC = Path("/proc")
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True, slots=True)
class Cost:
    cpu_seconds: float = 0.0
    wall_seconds: float = 0.0

    def __add__(self, other: Cost) -> Cost:
        return Cost(self.cpu_seconds + other.cpu_seconds, self.wall_seconds + other.wall_seconds)

    def ratio_to(self, floor: Cost) -> Ratio:
        return Ratio(
            cpu=self.cpu_seconds / floor.cpu_seconds if floor.cpu_seconds > 0 else None,
            wall=self.wall_seconds / floor.wall_seconds if floor.wall_seconds > 0 else None,
        )


@dataclass(frozen=True, slots=True)
class Ratio:
    cpu: float | None
    wall: float | None


def _rusage_seconds(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces: split after its closing parenthesis.
    return text[text.rfind(")") + 2 :].split()


def _live_descendants_seconds(root: int) -> float:
    """utime+stime+cutime+cstime of every live descendant of `root` (Linux; else 0)."""
    if not _PROC.is_dir():
        return 0.0
    children: dict[int, list[int]] = {}
    ticks: dict[int, int] = {}
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        if fields is None or len(fields) < 15:
            continue
        # After the name: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14).
        pid = int(entry.name)
        children.setdefault(int(fields[1]), []).append(pid)
        ticks[pid] = sum(int(x) for x in fields[11:15])
    total = 0
    stack = list(children.get(root, []))
    while stack:
        pid = stack.pop()
        total += ticks.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total / _CLOCK_TICKS


def cpu_seconds_now() -> float:
    """Cumulative CPU seconds of this process and all its descendants, dead or alive."""
    return (
        _rusage_seconds(resource.RUSAGE_SELF)
        + _rusage_seconds(resource.RUSAGE_CHILDREN)
        + _live_descendants_seconds(os.getpid())
    )


@dataclass(slots=True)
class Stopwatch:
    """Accumulates the cost of the blocks it times: `with watch.timing(): ...`."""

    total: Cost = field(default_factory=Cost)

    @contextmanager
    def timing(self) -> Iterator[None]:
        cpu0, wall0 = cpu_seconds_now(), time.perf_counter()
        try:
            yield
        finally:
            spent = Cost(cpu_seconds_now() - cpu0, time.perf_counter() - wall0)
            self.total = self.total + spent


def decode_command(path: Path) -> list[str]:
    """The decode floor: one thread, every frame decoded, nothing written."""
    return [
        "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-threads", "1",
        "-i", str(path), "-f", "null", "-",
    ]  # fmt: skip


def decode_floor(paths: Iterable[Path]) -> Cost:
    """The cost of decoding each file once with single-threaded ffmpeg, one after another."""
    watch = Stopwatch()
    for path in paths:
        with watch.timing():
            subprocess.run(decode_command(path), check=False, capture_output=True)
    return watch.total
