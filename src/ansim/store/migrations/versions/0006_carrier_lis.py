"""carrier location servers (HELD) and the re-location requests made to them

Revision ID: 0006_carrier_lis
Revises: 0005_secrets_at_rest
Create Date: 2026-12-05 01:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_carrier_lis"
down_revision: str | None = "0005_secrets_at_rest"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("carriers") as batch:
        batch.add_column(sa.Column("lis_url", sa.String(length=500), nullable=True))
        batch.add_column(sa.Column("lis_username", sa.String(length=200), nullable=True))
        # Encrypted text (EncryptedText): the password never sits in the database in clear.
        batch.add_column(sa.Column("lis_password", sa.Text(), nullable=True))
    op.create_table(
        "relocations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.String(length=36), nullable=False),
        sa.Column("carrier_id", sa.String(length=50), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("fixes", sa.Integer(), nullable=False),
        sa.Column("detail", sa.String(length=500), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_relocations_incident_id_incidents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_relocations")),
    )
    op.create_index(op.f("ix_relocations_incident_id"), "relocations", ["incident_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_relocations_incident_id"), table_name="relocations")
    op.drop_table("relocations")
    with op.batch_alter_table("carriers") as batch:
        batch.drop_column("lis_password")
        batch.drop_column("lis_username")
        batch.drop_column("lis_url")
