"""After the verdict: referral outbox, match feed cursor, review, suppression, audit log.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from urllib.parse import urlsplit

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(64)


def _time(name: str, *, nullable: bool) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _host(url: str | None) -> str | None:
    # A copy of the store's rule, frozen here so the migration never changes meaning.
    if url is None:
        return None
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    return host.lower().rstrip(".") if host else None


def upgrade() -> None:
    op.create_table(
        "sequences",
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("value", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_sequences"),
    )
    with op.batch_alter_table("media") as batch:
        batch.add_column(sa.Column("host", sa.String(255), nullable=True))
        batch.create_index("ix_media_host", ["host"])
    with op.batch_alter_table("results") as batch:
        batch.add_column(sa.Column("seq", sa.BigInteger, nullable=True))
        batch.add_column(
            sa.Column("suppressed", sa.Boolean, nullable=False, server_default=sa.false())
        )
        batch.create_index("ix_results_seq", ["seq"])
    op.create_table(
        "result_references",
        sa.Column("media_id", ID, nullable=False),
        sa.Column("reference_id", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("media_id", "reference_id", name="pk_result_references"),
        sa.ForeignKeyConstraint(
            ["media_id"], ["results.media_id"], name="fk_result_references_media_id_results"
        ),
    )
    op.create_index("ix_result_references_reference_id", "result_references", ["reference_id"])
    op.create_table(
        "referrals",
        sa.Column("seq", sa.BigInteger, nullable=False, autoincrement=False),
        sa.Column("id", ID, nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("media_id", ID, nullable=False),
        sa.Column("url", sa.Text, nullable=True),
        sa.Column("host", sa.String(255), nullable=True),
        sa.Column("sha256", sa.String(64), nullable=True),
        sa.Column("reference_id", sa.String(200), nullable=False),
        sa.Column("label", sa.Text, nullable=False),
        sa.Column("evidence", sa.JSON, nullable=False),
        _time("created_at", nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_referrals"),
        sa.UniqueConstraint("id", name="uq_referrals_id"),
        sa.UniqueConstraint("subject", name="uq_referrals_subject"),
        sa.ForeignKeyConstraint(["media_id"], ["media.id"], name="fk_referrals_media_id_media"),
    )
    op.create_index("ix_referrals_host", "referrals", ["host"])
    op.create_table(
        "sink_cursors",
        sa.Column("sink", sa.String(100), nullable=False),
        sa.Column("cursor", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("sink", name="pk_sink_cursors"),
    )
    op.create_table(
        "review_items",
        sa.Column("id", ID, nullable=False),
        sa.Column("media_id", ID, nullable=False),
        sa.Column("url", sa.Text, nullable=True),
        sa.Column("sha256", sa.String(64), nullable=True),
        sa.Column("reference_id", sa.String(200), nullable=True),
        sa.Column("label", sa.Text, nullable=True),
        sa.Column("score", sa.Float, nullable=True),
        sa.Column("state", sa.String(20), nullable=False),
        _time("created_at", nullable=False),
        sa.Column("decided_by", sa.String(200), nullable=True),
        _time("decided_at", nullable=True),
        sa.Column("note", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_review_items"),
        sa.ForeignKeyConstraint(["media_id"], ["media.id"], name="fk_review_items_media_id_media"),
    )
    op.create_index("ix_review_items_media_id", "review_items", ["media_id"])
    op.create_index("ix_review_items_state_created_at", "review_items", ["state", "created_at"])
    op.create_table(
        "suppressions",
        sa.Column("id", ID, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=True),
        sa.Column("query_hashes_sha256", sa.String(64), nullable=True),
        sa.Column("review_item_id", ID, nullable=True),
        sa.Column("created_by", sa.String(200), nullable=False),
        _time("created_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_suppressions"),
    )
    op.create_index("ix_suppressions_sha256", "suppressions", ["sha256"])
    op.create_index("ix_suppressions_query_hashes_sha256", "suppressions", ["query_hashes_sha256"])
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.BigInteger, nullable=False, autoincrement=False),
        _time("at", nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(100), nullable=False),
        sa.Column("target", sa.Text, nullable=True),
        sa.Column("details", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_audit_log"),
    )
    _backfill()


def _backfill() -> None:
    bind = op.get_bind()
    for media_id, url in bind.execute(sa.text("SELECT id, url FROM media WHERE url IS NOT NULL")):
        bind.execute(
            sa.text("UPDATE media SET host = :host WHERE id = :id"),
            {"host": _host(url), "id": media_id},
        )
    rows = bind.execute(
        sa.text("SELECT media_id, matches FROM results ORDER BY created_at, media_id")
    ).all()
    for seq, (media_id, matches) in enumerate(rows, start=1):
        bind.execute(
            sa.text("UPDATE results SET seq = :seq WHERE media_id = :id"),
            {"seq": seq, "id": media_id},
        )
        decoded = json.loads(matches) if isinstance(matches, str) else matches
        for reference_id in sorted({m["reference_id"] for m in decoded}):
            bind.execute(
                sa.text("INSERT INTO result_references (media_id, reference_id) VALUES (:m, :r)"),
                {"m": media_id, "r": reference_id},
            )
    for name, value in (("results", len(rows)), ("referrals", 0), ("audit", 0)):
        bind.execute(
            sa.text("INSERT INTO sequences (name, value) VALUES (:name, :value)"),
            {"name": name, "value": value},
        )


def downgrade() -> None:
    for table in (
        "audit_log",
        "suppressions",
        "review_items",
        "sink_cursors",
        "referrals",
        "result_references",
        "sequences",
    ):
        op.drop_table(table)
    with op.batch_alter_table("results") as batch:
        batch.drop_index("ix_results_seq")
        batch.drop_column("suppressed")
        batch.drop_column("seq")
    with op.batch_alter_table("media") as batch:
        batch.drop_index("ix_media_host")
        batch.drop_column("host")
