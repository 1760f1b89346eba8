"""location growth: how fast an incident's single uncertainty figure grows after its last fix

Revision ID: 0012_location_growth
Revises: 0011_totp_enrolment_codes
Create Date: 2026-12-05 07:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_location_growth"
down_revision: str | None = "0011_totp_enrolment_codes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Null for estimates stored before: readers take walking pace, as they did.
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("growth_mps", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_column("growth_mps")
