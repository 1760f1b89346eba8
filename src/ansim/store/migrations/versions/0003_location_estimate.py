"""location estimate: fused ellipse on incidents, fusion verdict on fixes

Revision ID: 0003_location_estimate
Revises: 0003_cctv
Create Date: 2026-11-29 00:26:11.460618
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_location_estimate"
down_revision: str | None = "0003_dispatch"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("semi_major_m", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("semi_minor_m", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("orientation_deg", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("area_m2", sa.Float(), nullable=True))

    with op.batch_alter_table("location_fixes", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("verdict", sa.String(length=20), server_default="accepted", nullable=False)
        )
        batch_op.add_column(
            sa.Column("verdict_reason", sa.String(length=300), server_default="", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("location_fixes", schema=None) as batch_op:
        batch_op.drop_column("verdict_reason")
        batch_op.drop_column("verdict")

    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_column("area_m2")
        batch_op.drop_column("orientation_deg")
        batch_op.drop_column("semi_minor_m")
        batch_op.drop_column("semi_major_m")
