"""TOTP enrolment codes: an admin's one-time code replaces trust on first use

Revision ID: 0011_totp_enrolment_codes
Revises: 0010_terminal_sequence
Create Date: 2026-12-05 02:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_totp_enrolment_codes"
down_revision: str | None = "0010_terminal_sequence"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "staff_enrolment_codes",
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("code_hash", sa.String(length=200), nullable=False),
        sa.Column("issued_by", sa.String(length=100), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["staff_users.id"],
            name=op.f("fk_staff_enrolment_codes_user_id_staff_users"),
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_staff_enrolment_codes")),
    )


def downgrade() -> None:
    op.drop_table("staff_enrolment_codes")
