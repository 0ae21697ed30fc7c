"""The hashing child: the only process that decodes media, under hard limits of its own.

Run by `workers.hashing.pool` as ``python -m workers.hashing.child PARENT_PID FD``. The
first message on the socket FD is its `ChildLimits`; it sets its resource limits (address
space, open files, no core files) and pixel budget, imports the hashing code, and answers
``("ready", pid)``. Then, for each ``(function, argument)`` request, ``("started",)`` and:

- ``("deadline", seconds)`` once the media's length is read from its header: the step's
  wall-time allowance, also set as its CPU-seconds limit (RLIMIT_CPU, SIGXCPU past it);
- ``("done", result, peak_bytes)`` or ``("raised", exception, peak_bytes)``, with the peak
  resident memory of the step.

A `MemoryError` leaves the process unfit for another step: it exits instead of answering.
Nothing here maps the reference index, so no limit ever applies to a process that does.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import resource
import sys
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from workers.parent_death import die_with_parent

EXIT_OUT_OF_MEMORY = 3


@dataclass(frozen=True, slots=True)
class ChildLimits:
    """What a hashing child may use (from `hashing.*` settings)."""

    memory_bytes: int
    open_files: int
    deadline_base_seconds: float
    deadline_seconds_per_media_second: float
    deadline_max_seconds: float
    max_image_pixels: int
    max_frame_pixels: int
    max_duration_seconds: float
    max_frames: int
    max_frame_rate: float

    def deadline_seconds(self, media_seconds: float) -> float:
        """The wall-time allowance of one step on media of `media_seconds`."""
        allowance = self.deadline_base_seconds + self.deadline_seconds_per_media_second * max(
            0.0, media_seconds
        )
        return min(self.deadline_max_seconds, allowance)


def _limit_resources(limits: ChildLimits) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _limit_cpu(seconds: float | None) -> None:
    """CPU seconds from now on (None: unlimited); the soft limit only, so it can move."""
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    if seconds is None:
        resource.setrlimit(resource.RLIMIT_CPU, (hard, hard))
        return
    usage = resource.getrusage(resource.RUSAGE_SELF)
    used = usage.ru_utime + usage.ru_stime
    soft = int(used + seconds) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (soft if hard < 0 else min(soft, hard), hard))


def _reset_peak_memory() -> None:
    # Writing 5 to clear_refs resets the peak resident size (VmHWM) to the current one, so
    # each step reports its own peak.
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def peak_memory_bytes() -> int:
    """This process's peak resident memory (VmHWM) since the last reset."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _media_seconds(argument: object) -> float:
    """The length of what a step works on, from the header: paths are probed, hashes and
    first looks carry it."""
    from hashes.decode import is_image, video_info
    from hashes.types import MediaError, VideoHashes
    from hashes.video.looks import FirstLook

    if isinstance(argument, Path):
        if is_image(argument):
            return 0.0
        try:
            return video_info(argument).duration_seconds
        except MediaError:
            return 0.0  # the step itself reports why the file cannot be read
    if isinstance(argument, FirstLook):
        return argument.hashes.duration_seconds
    if isinstance(argument, VideoHashes):
        return argument.duration_seconds
    return 0.0


def _answerable(error: BaseException) -> BaseException:
    try:
        pickle.dumps(error)
    except Exception:
        return RuntimeError(f"{type(error).__name__}: {error}")
    return error


def _serve(connection: Connection, limits: ChildLimits) -> None:
    while True:
        try:
            function, argument = connection.recv()
        except EOFError:
            return
        call: Callable[[Any], Any] = function
        connection.send(("started",))
        _reset_peak_memory()
        allowance = limits.deadline_seconds(_media_seconds(argument))
        _limit_cpu(allowance)
        connection.send(("deadline", allowance))
        try:
            result = call(argument)
        except MemoryError:
            # The allocator failed under the address-space limit; another step here could
            # meet a half-built state. The parent sees the exit and replaces this process.
            os._exit(EXIT_OUT_OF_MEMORY)
        except Exception as error:
            _limit_cpu(None)
            connection.send(("raised", _answerable(error), peak_memory_bytes()))
            continue
        _limit_cpu(None)
        connection.send(("done", result, peak_memory_bytes()))


def main(argv: list[str]) -> int:
    parent_pid, fd = int(argv[0]), int(argv[1])
    die_with_parent(parent_pid)
    connection = Connection(fd)
    limits: ChildLimits = connection.recv()
    _limit_resources(limits)

    from hashes.decode import MediaBudget, set_media_budget

    set_media_budget(
        MediaBudget(
            max_image_pixels=limits.max_image_pixels,
            max_frame_pixels=limits.max_frame_pixels,
            max_duration_seconds=limits.max_duration_seconds,
            max_frames=limits.max_frames,
            max_frame_rate=limits.max_frame_rate,
        )
    )
    # The hashing code, loaded once here, not in the first job's time.
    import hashes.video.looks
    import hashes.video.reference  # noqa: F401

    connection.send(("ready", os.getpid()))
    _serve(connection, limits)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
