"""outbox horizon: each event's writer transaction id, per-incident / per-unit event sequences, and
the audit entries waiting for their place in the chain

Writers no longer take one cluster-wide lock. A reader is complete by the visibility horizon (every
transaction below `pg_snapshot_xmin` has ended) and orders an incident's or a unit's events by the
sequence its writer took under that row's lock.

Revision ID: 0009_outbox_horizon
Revises: 0008_staff_districts
Create Date: 2026-12-05 01:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_outbox_horizon"
down_revision: str | None = "0008_staff_districts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Events written before this revision have no xid: they were published in id order already.
    op.add_column("outbox", sa.Column("xid", sa.BigInteger(), nullable=True))
    op.add_column("outbox", sa.Column("seq", sa.Integer(), nullable=True))
    op.create_index(op.f("ix_outbox_xid"), "outbox", ["xid"])
    for table in ("incidents", "units"):
        op.add_column(
            table,
            sa.Column("event_seq", sa.Integer(), nullable=False, server_default="0"),
        )

    # Audited transactions append here without a lock; a sealer chains them (ansim.security.audit).
    op.create_table(
        "audit_pending",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("xid", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=30), nullable=False),
        sa.Column("action", sa.String(length=60), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("incident_id", sa.String(length=100), nullable=True),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_pending")),
    )
    op.create_index(op.f("ix_audit_pending_xid"), "audit_pending", ["xid"])


def downgrade() -> None:
    op.drop_index(op.f("ix_audit_pending_xid"), table_name="audit_pending")
    op.drop_table("audit_pending")
    # Plain DROP COLUMN (SQLite 3.35+): a batch copy of these tables trips the foreign keys
    # that point at them once they hold rows.
    for table in ("incidents", "units"):
        op.drop_column(table, "event_seq")
    op.drop_index(op.f("ix_outbox_xid"), table_name="outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("seq")
        batch.drop_column("xid")
