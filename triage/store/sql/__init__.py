"""The SQL store: SQLite (aiosqlite) and PostgreSQL (asyncpg) through SQLAlchemy Core.

One class per concern, composed here into `SqlStore`; `base` holds the engine, transactions,
migrations and the row helpers they share.
"""

from __future__ import annotations

from triage.store.sql.base import MIGRATIONS_DIR
from triage.store.sql.keys import SqlKeys
from triage.store.sql.pages import SqlPages
from triage.store.sql.parked import SqlParked
from triage.store.sql.references import SqlReferences
from triage.store.sql.review import SqlReview
from triage.store.sql.submissions import SqlSubmissions

__all__ = ["MIGRATIONS_DIR", "SqlStore"]


class SqlStore(SqlKeys, SqlReferences, SqlSubmissions, SqlReview, SqlParked, SqlPages):
    """The `Store` on SQLite or PostgreSQL; see `triage.store.protocol.Store` for each method."""
