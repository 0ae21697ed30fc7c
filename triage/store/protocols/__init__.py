"""The store's interface, one protocol per concern.

Each consumer depends on the protocols it uses (the runner on `JobQueue`, the live index on
`HashList`...); `triage.store.protocol.Store` is their union, for the composition root, the
API and backups. Every backend implements all of them and passes each protocol's contract
suite (`tests/triage/store/test_<concern>_contract.py`). Methods raise `NotFound`, `Conflict`
(or its `LeaseLost`), `InvalidInput` and `StoreError` from `triage.errors`; times come from
the store's clock.
"""

from __future__ import annotations

from triage.store.protocols.audit import AuditLog
from triage.store.protocols.hash_list import HashList
from triage.store.protocols.jobs import JobQueue
from triage.store.protocols.keyframes import Keyframes
from triage.store.protocols.keys import ApiKeys
from triage.store.protocols.outbox import Outbox
from triage.store.protocols.review import ReviewQueue
from triage.store.protocols.sessions import WebSessions
from triage.store.protocols.submissions import Submissions

__all__ = [
    "ApiKeys",
    "AuditLog",
    "HashList",
    "JobQueue",
    "Keyframes",
    "Outbox",
    "ReviewQueue",
    "Submissions",
    "WebSessions",
]
