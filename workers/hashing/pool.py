"""Hashing children that can die safely: one job's hostile media never stops another's.

`HashingPool.run(function, argument)` runs a picklable function in a child process
(`workers.hashing.child`) with hard limits of its own: address space, open files, CPU
seconds, and a wall-time deadline proportional to the media's length with a hard ceiling.
A child that dies or overruns fails that call with `ChildFailure` (`decoder_crashed` or
`timeout`) and is replaced by a fresh one; the next call runs as usual. Children die with
their parent (PR_SET_PDEATHSIG), so a killed worker leaves none behind.

Children are started from the event loop's thread: the kernel's parent-death signal follows
the thread that started a child, and a short-lived helper thread would take it down early.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, TypeVar

import workers
from triage.config import HashingSettings
from triage.errors import TriageError
from workers.hashing.child import ChildLimits

_log = logging.getLogger(__name__)
_In = TypeVar("_In")
_Out = TypeVar("_Out")

# A child imports numpy, OpenCV and PyAV before it answers; on a busy machine that takes
# seconds, never this long.
STARTUP_SECONDS = 60.0
# How often a running child's peak memory is read from /proc while its answer is awaited.
SAMPLE_SECONDS = 0.25
_CHILD_CODE = "import sys; from workers.hashing.child import main; sys.exit(main(sys.argv[1:]))"


class ChildFailure(TriageError):
    """A hashing step failed because its child process did: `reason` says how."""

    def __init__(self, reason: str, detail: str, *, before_step: bool = False) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        # The child was gone before it took the step (e.g. killed while idle): not the
        # step's doing, so the pool tries it on a fresh child.
        self.before_step = before_step


@dataclass(frozen=True, slots=True)
class StepReport:
    """How one step went in its child: for metrics, benchmarks and tests."""

    outcome: str  # "done", "raised", "decoder_crashed", "timeout"
    seconds: float
    peak_memory_bytes: int
    child_pid: int


def child_limits(settings: HashingSettings) -> ChildLimits:
    return ChildLimits(
        memory_bytes=settings.memory_bytes,
        open_files=settings.open_files,
        deadline_base_seconds=settings.deadline_base_seconds,
        deadline_seconds_per_media_second=settings.deadline_seconds_per_media_second,
        deadline_max_seconds=settings.deadline_max_seconds,
        max_image_pixels=settings.max_image_pixels,
        max_frame_pixels=settings.max_frame_pixels,
        max_duration_seconds=settings.max_duration_seconds,
        max_frames=settings.max_frames,
        max_frame_rate=settings.max_frame_rate,
    )


def _child_environment(limits: ChildLimits) -> dict[str, str]:
    env = dict(os.environ)
    package_root = str(Path(workers.__file__).resolve().parents[1])
    python_path = env.get("PYTHONPATH")
    env["PYTHONPATH"] = (
        package_root if not python_path else f"{package_root}{os.pathsep}{python_path}"
    )
    # OpenCV's own pixel limit, for still formats whose header we do not read.
    env["OPENCV_IO_MAX_IMAGE_PIXELS"] = str(limits.max_image_pixels)
    return env


class _Child:
    """One hashing process and its end of the socket."""

    def __init__(self, process: subprocess.Popen[bytes], connection: Connection) -> None:
        self.process = process
        self.connection = connection
        self.peak_memory_bytes = 0
        self.doomed = False  # killed from outside its exchange; that thread reaps it

    @property
    def alive(self) -> bool:
        """Running and fit for another step (an idle child can die too, e.g. killed)."""
        if self.doomed or self.process.returncode is not None:
            return False
        try:
            died = self.process.poll() is not None or self.connection.poll(0)
        except OSError:
            died = True
        return not died

    @property
    def pid(self) -> int:
        return self.process.pid

    @classmethod
    def start(cls, limits: ChildLimits) -> _Child:
        ours, theirs = socket.socketpair()
        with ours, theirs:
            process = subprocess.Popen(
                [sys.executable, "-c", _CHILD_CODE, str(os.getpid()), str(theirs.fileno())],
                stdin=subprocess.DEVNULL,
                pass_fds=(theirs.fileno(),),
                env=_child_environment(limits),
                close_fds=True,
            )
            connection = Connection(ours.detach())
        child = cls(process, connection)
        child.connection.send(limits)
        return child

    def wait_ready(self) -> None:
        """Block until the child has loaded its code; ChildFailure if it never does."""
        try:
            if self.connection.poll(STARTUP_SECONDS):
                message = self.connection.recv()
                if message[0] == "ready":
                    return
        except (EOFError, OSError):
            pass
        self.kill()
        raise ChildFailure(
            "worker_pool", f"a hashing process did not start ({self.exit_description()})"
        )

    def exchange(self, request: tuple[Callable[[Any], Any], Any], base_seconds: float) -> Any:
        """Send one step and wait for its answer within its deadline (blocking; run in a
        thread). The child is killed and reaped when it overruns; ChildFailure then.

        The step's peak memory comes from the child's answer; for a child that dies it is
        the last of the samples taken while waiting (the kernel's figure for a reaped child
        counts the parent's memory it was started from)."""
        started = time.monotonic()
        deadline = started + base_seconds
        taken = False
        self.peak_memory_bytes = 0
        try:
            self.connection.send(request)
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self._sample_peak()
                    self.kill()
                    raise ChildFailure(
                        "timeout", f"hashing took longer than {deadline - started:.0f} s"
                    )
                if not self.connection.poll(min(remaining, SAMPLE_SECONDS)):
                    self._sample_peak()
                    continue
                message = self.connection.recv()
                if message[0] == "started":
                    taken = True
                    continue
                if message[0] == "deadline":
                    deadline = started + float(message[1])
                    continue
                self.peak_memory_bytes = int(message[2])
                return message
        except (EOFError, OSError) as exc:
            self.reap()
            raise self._death(before_step=not taken) from exc

    def _sample_peak(self) -> None:
        try:
            status = Path(f"/proc/{self.pid}/status").read_text()
        except OSError:
            return
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                self.peak_memory_bytes = max(self.peak_memory_bytes, int(line.split()[1]) * 1024)

    def _death(self, *, before_step: bool) -> ChildFailure:
        code = self.process.returncode
        if code is not None and -code == signal.SIGXCPU:
            return ChildFailure("timeout", "hashing used up its CPU seconds")
        return ChildFailure(
            "decoder_crashed",
            f"the hashing process died ({self.exit_description()})",
            before_step=before_step,
        )

    def exit_description(self) -> str:
        code = self.process.returncode
        if code is None:
            return "still running"
        if code < 0:
            return f"killed by {signal.Signals(-code).name}"
        return f"exit code {code}"

    def kill(self) -> None:
        """Kill and reap; only from the thread that owns the connection (or when idle)."""
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
        self.reap()

    def doom(self) -> None:
        """Kill from another thread while a step runs: its exchange sees the end and reaps."""
        self.doomed = True
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()

    def reap(self) -> None:
        """Close our end and wait for the (killed or dead) child."""
        with contextlib.suppress(OSError):
            self.connection.close()
        self.process.wait()


class HashingPool:
    """Up to `size` hashing children, started when first needed and replaced when they die.

    `ready` is False while a child cannot be started (the worker then reports not ready).
    `observer` sees a `StepReport` after every step.
    """

    def __init__(
        self,
        settings: HashingSettings,
        size: int,
        *,
        observer: Callable[[StepReport], None] | None = None,
    ) -> None:
        self._limits = child_limits(settings)
        self._slots = asyncio.Semaphore(max(1, size))
        self._idle: list[_Child] = []
        self._busy: set[_Child] = set()
        self._observer = observer
        self._ready = True
        self._closed = False

    @property
    def ready(self) -> bool:
        return self._ready and not self._closed

    async def start(self) -> None:
        """Start one child now, so a pool that cannot be built shows before the first job."""
        with contextlib.suppress(ChildFailure):
            self._idle.append(await self._spawn())

    async def run(self, function: Callable[[_In], _Out], argument: _In) -> _Out:
        """`function(argument)` in a child; its exception re-raised here. Raises
        `ChildFailure` when the child dies (`decoder_crashed`), overruns (`timeout`) or cannot
        be started (`worker_pool`)."""
        if self._closed:
            raise ChildFailure("worker_pool", "the hashing pool is closed")
        async with self._slots:
            try:
                message = await self._step(await self._idle_child(), function, argument)
            except ChildFailure as failure:
                if not failure.before_step:
                    raise
                message = await self._step(await self._spawn(), function, argument)
        if message[0] == "raised":
            raise message[1]
        result: _Out = message[1]
        return result

    async def _step(self, child: _Child, function: Callable[[Any], Any], argument: Any) -> Any:
        self._busy.add(child)
        started = time.monotonic()
        outcome = "cancelled"
        try:
            message = await asyncio.to_thread(
                child.exchange, (function, argument), self._limits.deadline_base_seconds
            )
            outcome = str(message[0])
            return message
        except ChildFailure as failure:
            outcome = failure.reason
            _log.warning("hashing process %d: %s", child.pid, failure)
            raise
        except BaseException:
            # Cancelled (lease lost, shutdown): nobody wants this step any more.
            child.doom()
            raise
        finally:
            self._busy.discard(child)
            if child.alive and not self._closed:
                self._idle.append(child)
            elif not child.doomed:
                await asyncio.to_thread(child.kill)
            self._report(outcome, time.monotonic() - started, child)

    def _report(self, outcome: str, seconds: float, child: _Child) -> None:
        if self._observer is not None:
            self._observer(StepReport(outcome, seconds, child.peak_memory_bytes, child.pid))

    async def _idle_child(self) -> _Child:
        while self._idle:
            child = self._idle.pop()
            if child.alive:
                return child
            _log.warning("hashing process %d died while idle (%s); replacing it", child.pid,
                         child.exit_description())  # fmt: skip
            await asyncio.to_thread(child.kill)
        return await self._spawn()

    async def _spawn(self) -> _Child:
        try:
            child = _Child.start(self._limits)  # here, on the loop's thread (module docstring)
        except OSError as exc:
            self._ready = False
            raise ChildFailure("worker_pool", f"cannot start a hashing process: {exc}") from exc
        try:
            await asyncio.to_thread(child.wait_ready)
        except ChildFailure:
            self._ready = False
            raise
        except BaseException:
            child.kill()
            raise
        self._ready = True
        return child

    async def close(self) -> None:
        """Stop every child (a running step's child too)."""
        self._closed = True
        for child in self._busy:
            child.doom()
        idle, self._idle = self._idle, []
        for child in idle:
            await asyncio.to_thread(child.kill)
