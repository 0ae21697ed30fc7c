"""Parked referrals (deliveries a sink set aside after repeated refusals); fair job claims
(the submitting key, the lane and the last claim time of each job; each key's last turn).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _time(name: str, *, nullable: bool) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "parked_referrals",
        sa.Column("sink", sa.String(100), nullable=False),
        sa.Column("referral_seq", sa.BigInteger, nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("refusals", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text, nullable=False),
        _time("parked_at", nullable=False),
        _time("updated_at", nullable=False),
        sa.PrimaryKeyConstraint("sink", "referral_seq", name="pk_parked_referrals"),
        sa.ForeignKeyConstraint(
            ["referral_seq"], ["referrals.seq"], name="fk_parked_referrals_referral_seq_referrals"
        ),
    )
    op.create_index(
        "ix_parked_referrals_state_referral_seq", "parked_referrals", ["state", "referral_seq"]
    )
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("key_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("lane", sa.String(10), nullable=False, server_default="short"))
        batch.add_column(_time("claimed_at", nullable=True))
        batch.create_index("ix_jobs_key_id", ["key_id"])
    op.create_table(
        "claim_turns",
        sa.Column("key_group", sa.String(64), nullable=False),
        _time("last_claimed_at", nullable=False),
        sa.PrimaryKeyConstraint("key_group", name="pk_claim_turns"),
    )
    # A media job belongs to the key of the media's first submission.
    op.execute(
        sa.text(
            "UPDATE jobs SET key_id = (SELECT s.key_id FROM submissions s "
            "WHERE s.media_id = jobs.target_id ORDER BY s.created_at, s.id LIMIT 1) "
            "WHERE kind = 'process_media'"
        )
    )


def downgrade() -> None:
    op.drop_table("claim_turns")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_index("ix_jobs_key_id")
        batch.drop_column("claimed_at")
        batch.drop_column("lane")
        batch.drop_column("key_id")
    op.drop_index("ix_parked_referrals_state_referral_seq", "parked_referrals")
    op.drop_table("parked_referrals")
