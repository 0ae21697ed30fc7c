"""Initial schema: keys, the hash list, media, submissions, jobs and results.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(64)


def _time(name: str, *, nullable: bool) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", ID, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("scopes", sa.String(100), nullable=False),
        sa.Column("hosts", sa.JSON, nullable=True),
        _time("created_at", nullable=False),
        _time("revoked_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
        sa.UniqueConstraint("digest", name="uq_api_keys_digest"),
    )
    op.create_table(
        "hashlist_state",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_hashlist_state"),
    )
    op.execute("INSERT INTO hashlist_state (id, version) VALUES (1, 0)")
    op.create_table(
        "hash_references",
        sa.Column("id", sa.String(200), nullable=False),
        sa.Column("label", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("added_by", sa.String(200), nullable=False),
        _time("added_at", nullable=False),
        _time("updated_at", nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("frame_count", sa.Integer, nullable=False),
        sa.Column("duration_seconds", sa.Float, nullable=False),
        sa.Column("upload_path", sa.Text, nullable=True),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("hash_record", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_hash_references"),
    )
    op.create_index("ix_hash_references_version", "hash_references", ["version"])
    op.create_table(
        "media",
        sa.Column("id", ID, nullable=False),
        sa.Column("url", sa.Text, nullable=True),
        sa.Column("upload_path", sa.Text, nullable=True),
        sa.Column("sha256", sa.String(64), nullable=True),
        sa.Column("final_url", sa.Text, nullable=True),
        sa.Column("size_bytes", sa.BigInteger, nullable=True),
        sa.Column("content_type", sa.String(200), nullable=True),
        _time("fetched_at", nullable=True),
        sa.Column("resolver", sa.JSON, nullable=True),
        sa.Column("same_as", ID, nullable=True),
        _time("created_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_media"),
        sa.UniqueConstraint("url", name="uq_media_url"),
        sa.ForeignKeyConstraint(["same_as"], ["media.id"], name="fk_media_same_as_media"),
    )
    op.create_index("ix_media_sha256", "media", ["sha256"])
    op.create_table(
        "submissions",
        sa.Column("id", ID, nullable=False),
        sa.Column("url", sa.Text, nullable=True),
        sa.Column("upload_filename", sa.Text, nullable=True),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("external_id", sa.String(500), nullable=True),
        sa.Column("idempotency_key", sa.String(500), nullable=True),
        sa.Column("key_id", ID, nullable=False),
        sa.Column("media_id", ID, nullable=False),
        _time("created_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_submissions"),
        sa.UniqueConstraint(
            "key_id", "idempotency_key", name="uq_submissions_key_id_idempotency_key"
        ),
        sa.ForeignKeyConstraint(["media_id"], ["media.id"], name="fk_submissions_media_id_media"),
    )
    op.create_index("ix_submissions_media_id", "submissions", ["media_id"])
    op.create_table(
        "jobs",
        sa.Column("id", ID, nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("target_id", sa.String(200), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("max_attempts", sa.Integer, nullable=False),
        sa.Column("lease_owner", sa.String(200), nullable=True),
        _time("lease_expires_at", nullable=True),
        _time("heartbeat_at", nullable=True),
        _time("run_after", nullable=False),
        sa.Column("last_error", sa.Text, nullable=True),
        _time("created_at", nullable=False),
        _time("updated_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_jobs"),
    )
    op.create_index("ix_jobs_state_run_after", "jobs", ["state", "run_after"])
    op.create_index("ix_jobs_kind_target_id", "jobs", ["kind", "target_id"])
    op.create_table(
        "results",
        sa.Column("media_id", ID, nullable=False),
        sa.Column("verdict", sa.String(20), nullable=False),
        sa.Column("matches", sa.JSON, nullable=False),
        sa.Column("query_hashes", sa.Text, nullable=False),
        _time("created_at", nullable=False),
        sa.PrimaryKeyConstraint("media_id", name="pk_results"),
        sa.ForeignKeyConstraint(["media_id"], ["media.id"], name="fk_results_media_id_media"),
    )


def downgrade() -> None:
    for table in ("results", "jobs", "submissions", "media", "hash_references"):
        op.drop_table(table)
    op.drop_table("hashlist_state")
    op.drop_table("api_keys")
