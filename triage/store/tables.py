"""The SQL schema as SQLAlchemy Core tables, shared by SQLite and PostgreSQL.

Alembic migrations (in `migrations/versions/`) create and change these tables; this module
describes their current shape for queries. Change both together.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend.

    PostgreSQL keeps `timestamptz`; SQLite keeps naive ISO text, which sorts and compares
    correctly only when every value is UTC, so values are normalised on the way in.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime given to the store: {value!r}")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime from the database, got {value!r}")
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

ID = String(64)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("digest", String(64), nullable=False, unique=True),
    Column("scopes", String(100), nullable=False),
    Column("hosts", JSON, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime, nullable=True),
)

hashlist_state = Table(
    "hashlist_state",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("version", BigInteger, nullable=False),
)

references = Table(
    "hash_references",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("label", Text, nullable=False),
    Column("source", Text, nullable=False),
    Column("added_by", String(200), nullable=False),
    Column("added_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("status", String(20), nullable=False),
    Column("frame_count", Integer, nullable=False),
    Column("duration_seconds", Float, nullable=False),
    Column("upload_path", Text, nullable=True),
    Column("version", BigInteger, nullable=False),
    Column("hash_record", Text, nullable=True),
    Column("full_frames_only", Boolean, nullable=False, server_default=false()),
    Index(None, "version"),
)

media = Table(
    "media",
    metadata,
    Column("id", ID, primary_key=True),
    Column("url", Text, nullable=True, unique=True),
    Column("upload_path", Text, nullable=True),
    Column("sha256", String(64), nullable=True, index=True),
    Column("final_url", Text, nullable=True),
    Column("size_bytes", BigInteger, nullable=True),
    Column("content_type", String(200), nullable=True),
    Column("fetched_at", UtcDateTime, nullable=True),
    Column("resolver", JSON, nullable=True),
    Column("same_as", ID, ForeignKey("media.id"), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("host", String(255), nullable=True, index=True),
)

submissions = Table(
    "submissions",
    metadata,
    Column("id", ID, primary_key=True),
    Column("url", Text, nullable=True),
    Column("upload_filename", Text, nullable=True),
    Column("note", Text, nullable=True),
    Column("external_id", String(500), nullable=True),
    Column("idempotency_key", String(500), nullable=True),
    Column("key_id", ID, nullable=False),
    Column("media_id", ID, ForeignKey("media.id"), nullable=False, index=True),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("key_id", "idempotency_key"),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", ID, primary_key=True),
    Column("kind", String(40), nullable=False),
    Column("target_id", String(200), nullable=False),
    Column("state", String(20), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("max_attempts", Integer, nullable=False),
    Column("lease_owner", String(200), nullable=True),
    Column("lease_expires_at", UtcDateTime, nullable=True),
    Column("heartbeat_at", UtcDateTime, nullable=True),
    Column("run_after", UtcDateTime, nullable=False),
    Column("last_error", Text, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Index(None, "state", "run_after"),
    Index(None, "kind", "target_id"),
)

results = Table(
    "results",
    metadata,
    Column("media_id", ID, ForeignKey("media.id"), primary_key=True),
    Column("verdict", String(20), nullable=False),
    Column("matches", JSON, nullable=False),
    Column("query_hashes", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("seq", BigInteger, nullable=True, index=True),
    Column("suppressed", Boolean, nullable=False, server_default=false()),
)

# --- since 0002: after the verdict -----------------------------------------------------------

sequences = Table(
    "sequences",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

result_references = Table(
    "result_references",
    metadata,
    Column("media_id", ID, ForeignKey("results.media_id"), primary_key=True),
    Column("reference_id", String(200), primary_key=True, index=True),
)

referrals = Table(
    "referrals",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("id", ID, nullable=False, unique=True),
    Column("subject", Text, nullable=False, unique=True),
    Column("media_id", ID, ForeignKey("media.id"), nullable=False),
    Column("url", Text, nullable=True),
    Column("host", String(255), nullable=True, index=True),
    Column("sha256", String(64), nullable=True),
    Column("reference_id", String(200), nullable=False),
    Column("label", Text, nullable=False),
    Column("evidence", JSON, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

sink_cursors = Table(
    "sink_cursors",
    metadata,
    Column("sink", String(100), primary_key=True),
    Column("cursor", BigInteger, nullable=False),
)

review_items = Table(
    "review_items",
    metadata,
    Column("id", ID, primary_key=True),
    Column("media_id", ID, ForeignKey("media.id"), nullable=False, index=True),
    Column("url", Text, nullable=True),
    Column("sha256", String(64), nullable=True),
    Column("reference_id", String(200), nullable=True),
    Column("label", Text, nullable=True),
    Column("score", Float, nullable=True),
    Column("state", String(20), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("decided_by", String(200), nullable=True),
    Column("decided_at", UtcDateTime, nullable=True),
    Column("note", Text, nullable=True),
    Index(None, "state", "created_at"),
)

suppressions = Table(
    "suppressions",
    metadata,
    Column("id", ID, primary_key=True),
    Column("sha256", String(64), nullable=True, index=True),
    Column("query_hashes_sha256", String(64), nullable=True, index=True),
    Column("review_item_id", ID, nullable=True),
    Column("created_by", String(200), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("at", UtcDateTime, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("action", String(100), nullable=False),
    Column("target", Text, nullable=True),
    Column("details", JSON, nullable=False),
)
