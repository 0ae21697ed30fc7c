"""Follow-up steps of a request whose change is already stored.

Once a change is committed, the answer must say so: an error status would make the client
retry and store it twice (or meet a 409 for its own change). A step after the commit that
fails (re-reading the status, an audit row, scheduling retro-matching) is logged and counted
instead, and the request still succeeds.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import TypeVar

from triage.metrics import after_commit_failures_total

_T = TypeVar("_T")
_log = logging.getLogger(__name__)


async def after_commit(step: str, work: Awaitable[_T], *, target: str) -> _T | None:
    """The result of `work`, or None when it failed (logged with `step` and `target`)."""
    try:
        return await work
    except Exception:
        after_commit_failures_total.labels(step=step).inc()
        _log.exception("%s for %s failed after its change was stored", step, target)
        return None
