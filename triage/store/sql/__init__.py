"""The SQL store: SQLite (aiosqlite) and PostgreSQL (asyncpg) through SQLAlchemy Core.

One class per concern (a protocol of `triage.store.protocols`), composed here into `SqlStore`;
`base` holds the engine, transactions, migrations and the row helpers they share.
"""

from __future__ import annotations

from triage.store.sql.audit import SqlAudit
from triage.store.sql.base import MIGRATIONS_DIR
from triage.store.sql.jobs import SqlJobs
from triage.store.sql.keyframes import SqlKeyframes
from triage.store.sql.keys import SqlKeys
from triage.store.sql.outbox import SqlOutbox
from triage.store.sql.parked import SqlParked
from triage.store.sql.references import SqlReferences
from triage.store.sql.review import SqlReview
from triage.store.sql.sessions import SqlSessions
from triage.store.sql.submissions import SqlSubmissions

__all__ = ["MIGRATIONS_DIR", "SqlStore"]


class SqlStore(
    SqlKeys,
    SqlReferences,
    SqlSubmissions,
    SqlReview,
    SqlParked,
    SqlSessions,
    SqlKeyframes,
    SqlJobs,
    SqlOutbox,
    SqlAudit,
):
    """The `Store` on SQLite or PostgreSQL; see `triage.store.protocols` for each method."""
