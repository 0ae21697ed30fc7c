"""References that hold full-frame hashes only.

Reference videos hashed before the store kept every view the matcher uses (and industry lists,
which carry full frames only) are marked, so `GET /v1/references` and a metric show them.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("hash_references") as batch:
        batch.add_column(
            sa.Column("full_frames_only", sa.Boolean, nullable=False, server_default=sa.false())
        )
    # A copy of the store's rule, frozen here: a JSON key is never inside a string value,
    # where its quotes would be escaped.
    op.execute(
        "UPDATE hash_references SET full_frames_only = "
        "(hash_record IS NOT NULL AND hash_record NOT LIKE '%\"derived_frames\":%')"
    )


def downgrade() -> None:
    with op.batch_alter_table("hash_references") as batch:
        batch.drop_column("full_frames_only")
