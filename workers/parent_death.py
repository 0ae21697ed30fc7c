"""Child processes die with their parent: none is left running when a worker is killed.

A helper process (the hashing child, the resolver) calls `die_with_parent` first thing. The
kernel then sends it SIGKILL when the thread that started it ends, whatever the way: a
SIGKILL of `triage serve` leaves no orphan decoding someone's media or holding memory.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

_PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int) -> None:
    """Be killed when the parent goes; exit now if `parent_pid` is already gone.

    `parent_pid` is the pid the parent gave (its own): if it died before this call, this
    process was re-parented already and the kernel would never send the signal.
    """
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"prctl(PR_SET_PDEATHSIG): {os.strerror(errno)}")
    if os.getppid() != parent_pid:
        os._exit(1)
