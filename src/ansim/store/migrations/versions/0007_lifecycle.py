"""incident lifecycle: an SOS after a cancel links to the earlier incident; units still missing

Revision ID: 0007_lifecycle
Revises: 0006_carrier_lis
Create Date: 2026-12-05 01:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_lifecycle"
down_revision: str | None = "0006_carrier_lis"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("previous_incident_id", sa.String(length=36), nullable=True))
        batch_op.add_column(
            sa.Column("waiting_for_units", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("waiting_since", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_incidents_previous_incident_id_incidents"),
            "incidents",
            ["previous_incident_id"],
            ["id"],
        )
        batch_op.create_index(
            batch_op.f("ix_incidents_previous_incident_id"), ["previous_incident_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incidents_previous_incident_id"))
        batch_op.drop_constraint(
            batch_op.f("fk_incidents_previous_incident_id_incidents"), type_="foreignkey"
        )
        batch_op.drop_column("waiting_since")
        batch_op.drop_column("waiting_for_units")
        batch_op.drop_column("previous_incident_id")
