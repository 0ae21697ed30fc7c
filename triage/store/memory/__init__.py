"""The in-process store: dictionaries behind the `Store` interface.

For tests and for single-process runs with `memory://`; everything is lost on exit. One class
per concern (a protocol of `triage.store.protocols`), composed here into `MemoryStore`,
mirroring the SQL store.
"""

from __future__ import annotations

from triage.store.memory.audit import MemoryAudit
from triage.store.memory.jobs import MemoryJobs
from triage.store.memory.keyframes import MemoryKeyframes
from triage.store.memory.keys import MemoryKeys
from triage.store.memory.outbox import MemoryOutbox
from triage.store.memory.parked import MemoryParked
from triage.store.memory.references import MemoryReferences
from triage.store.memory.review import MemoryReview
from triage.store.memory.sessions import MemorySessions
from triage.store.memory.submissions import MemorySubmissions

__all__ = ["MemoryStore"]


class MemoryStore(
    MemoryKeys,
    MemoryReferences,
    MemorySubmissions,
    MemoryReview,
    MemoryParked,
    MemorySessions,
    MemoryKeyframes,
    MemoryJobs,
    MemoryOutbox,
    MemoryAudit,
):
    """The `Store` in memory; see `triage.store.protocols` for each method."""
