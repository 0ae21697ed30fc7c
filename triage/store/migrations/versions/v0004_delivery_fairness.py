"""Parked referrals (deliveries a sink set aside after repeated refusals).

Revision ID: 0004
Revises: 0002
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0002"
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


def downgrade() -> None:
    op.drop_index("ix_parked_referrals_state_referral_seq", "parked_referrals")
    op.drop_table("parked_referrals")
