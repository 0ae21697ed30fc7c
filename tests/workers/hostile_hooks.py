"""Test hooks that run inside a hashing child: a decoder that dies or hangs mid-job.

`misbehaving_first_look` behaves as `first_look` except on files whose SHA-256 is listed:
it starts decoding them, then kills its own process (`crash`) or waits forever (`hang`).
Only tests put it in the pipeline's tools; the service never does.
"""

from __future__ import annotations

import hashlib
import os
import signal
import threading
from collections.abc import Collection
from pathlib import Path

from hashes.decode import DecodeOptions, iter_frames
from hashes.video import FirstLook, QueryParams, first_look


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def misbehaving_first_look(
    path: Path, *, crash: Collection[str], hang: Collection[str], params: QueryParams
) -> FirstLook:
    digest = file_sha256(path)
    if digest in crash or digest in hang:
        for _ in iter_frames(path, DecodeOptions(fps=params.fps, max_side=params.max_side)):
            if digest in crash:
                os.kill(os.getpid(), signal.SIGKILL)
            threading.Event().wait()  # a decoder stuck for good: only the deadline ends it
    return first_look(path, params)
