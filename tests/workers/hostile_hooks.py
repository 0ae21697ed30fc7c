"""Test hooks that run inside a hashing child: a decoder that dies or hangs mid-job.

`misbehaving_step` runs a hashing step as asked except on files whose SHA-256 is listed: it
starts decoding them, then kills its own process (`crash`) or waits forever (`hang`).
The small functions below it are steps for the pool's own tests. Only tests put these in
the pipeline or the pool; the service never does.
"""

from __future__ import annotations

import hashlib
import os
import resource
import signal
import threading
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

from hashes.decode import DecodeOptions, iter_frames
from hashes.types import MediaError


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def misbehaving_step(
    path: Path, *, crash: Collection[str], hang: Collection[str], step: Callable[[Path], Any]
) -> Any:
    digest = file_sha256(path)
    if digest in crash or digest in hang:
        for _ in iter_frames(path, DecodeOptions(fps=4.0)):
            if digest in crash:
                os.kill(os.getpid(), signal.SIGKILL)
            threading.Event().wait()  # a decoder stuck for good: only the deadline ends it
    return step(path)


def own_limits(_: object) -> dict[str, tuple[int, int]]:
    """The resource limits of the process it runs in."""
    return {
        "address_space": resource.getrlimit(resource.RLIMIT_AS),
        "open_files": resource.getrlimit(resource.RLIMIT_NOFILE),
    }


def own_pid(_: object) -> int:
    return os.getpid()


def die(_: object) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def hang(_: object) -> None:
    threading.Event().wait()


def spin(_: object) -> None:
    """Burn CPU until the CPU-seconds limit ends the process."""
    while True:
        pass


def bad_media(path: Path) -> None:
    raise MediaError(f"{path}: not media at all")
