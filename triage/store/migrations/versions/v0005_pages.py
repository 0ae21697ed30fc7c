"""Pages for moderators: sign-in sessions, claims on review items, keyframes.

Revision ID: 0005
Revises: 0002
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _time(name: str, *, nullable: bool) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    with op.batch_alter_table("review_items") as batch:
        batch.add_column(sa.Column("claimed_by", sa.String(200), nullable=True))
        batch.add_column(_time("claim_expires_at", nullable=True))
    op.create_table(
        "web_sessions",
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("csrf_token", sa.String(100), nullable=False),
        _time("created_at", nullable=False),
        _time("expires_at", nullable=False),
        sa.PrimaryKeyConstraint("digest", name="pk_web_sessions"),
        sa.ForeignKeyConstraint(
            ["key_id"], ["api_keys.id"], name="fk_web_sessions_key_id_api_keys"
        ),
    )
    op.create_index("ix_web_sessions_key_id", "web_sessions", ["key_id"])
    op.create_index("ix_web_sessions_expires_at", "web_sessions", ["expires_at"])
    op.create_table(
        "keyframes",
        sa.Column("owner_id", sa.String(200), nullable=False),
        sa.Column("timestamp_millis", sa.BigInteger, nullable=False, autoincrement=False),
        sa.Column("of_reference", sa.Boolean, nullable=False),
        sa.Column("jpeg", sa.LargeBinary, nullable=False),
        _time("created_at", nullable=False),
        sa.PrimaryKeyConstraint("owner_id", "timestamp_millis", name="pk_keyframes"),
    )
    op.create_index("ix_keyframes_created_at", "keyframes", ["created_at"])
    # Submissions are listed newest first, per key and by external id.
    op.create_index("ix_submissions_key_id_created_at", "submissions", ["key_id", "created_at"])
    op.create_index("ix_submissions_external_id", "submissions", ["external_id"])


def downgrade() -> None:
    op.drop_index("ix_submissions_external_id", "submissions")
    op.drop_index("ix_submissions_key_id_created_at", "submissions")
    op.drop_table("keyframes")
    op.drop_table("web_sessions")
    with op.batch_alter_table("review_items") as batch:
        batch.drop_column("claim_expires_at")
        batch.drop_column("claimed_by")
