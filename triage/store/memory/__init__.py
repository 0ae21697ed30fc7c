"""The in-process store: dictionaries behind the `Store` interface.

For tests and for single-process runs with `memory://`; everything is lost on exit. One class
per concern, composed here into `MemoryStore`, mirroring the SQL store.
"""

from __future__ import annotations

from triage.store.memory.keys import MemoryKeys
from triage.store.memory.pages import MemoryPages
from triage.store.memory.parked import MemoryParked
from triage.store.memory.references import MemoryReferences
from triage.store.memory.review import MemoryReview
from triage.store.memory.submissions import MemorySubmissions

__all__ = ["MemoryStore"]


class MemoryStore(
    MemoryKeys, MemoryReferences, MemorySubmissions, MemoryReview, MemoryParked, MemoryPages
):
    """The `Store` in memory; see `triage.store.protocol.Store` for each method."""
