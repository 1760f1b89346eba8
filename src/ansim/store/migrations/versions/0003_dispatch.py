"""dispatch: assignment ETA and ack deadline, unit status history

Revision ID: 0003_dispatch
Revises: 0003_cctv
Create Date: 2026-11-29 00:23:43.589761
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_dispatch"
down_revision: str | None = "0003_cctv"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "unit_status_changes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("unit_id", sa.String(length=36), nullable=False),
        sa.Column(
            "previous",
            sa.Enum(
                "available",
                "ordered",
                "en_route",
                "on_scene",
                "busy",
                "off_duty",
                name="unitstatus",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "available",
                "ordered",
                "en_route",
                "on_scene",
                "busy",
                "off_duty",
                name="unitstatus",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("incident_id", sa.String(length=36), nullable=True),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_unit_status_changes_incident_id_incidents"),
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_unit_status_changes_unit_id_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unit_status_changes")),
    )
    with op.batch_alter_table("unit_status_changes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_unit_status_changes_at"), ["at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_unit_status_changes_unit_id"), ["unit_id"], unique=False
        )

    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("eta_s", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("ack_due_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("end_reason", sa.String(length=200), server_default="", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.drop_column("end_reason")
        batch_op.drop_column("ack_due_at")
        batch_op.drop_column("eta_s")

    with op.batch_alter_table("unit_status_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_unit_status_changes_unit_id"))
        batch_op.drop_index(batch_op.f("ix_unit_status_changes_at"))

    op.drop_table("unit_status_changes")
