"""terminal sequence as BigInteger; incidents remember that their person asked to cancel

Revision ID: 0010_terminal_sequence
Revises: 0009_outbox_horizon
Create Date: 2026-12-05 01:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_terminal_sequence"
down_revision: str | None = "0009_outbox_horizon"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Terminals may number messages up to 2**53 (the protocol's limit); Integer stops at 2**31.
    with op.batch_alter_table("terminals", schema=None) as batch_op:
        batch_op.alter_column(
            "last_seq", existing_type=sa.Integer(), type_=sa.BigInteger(), existing_nullable=False
        )
    # What the person's device shows after a cancel with either PIN: the same, in every state.
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("person_cancelled", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.execute("UPDATE incidents SET person_cancelled = duress")


def downgrade() -> None:
    # Plain DROP COLUMN: a batch copy of `incidents` trips the foreign keys that point at it.
    op.drop_column("incidents", "person_cancelled")
    with op.batch_alter_table("terminals", schema=None) as batch_op:
        batch_op.alter_column(
            "last_seq", existing_type=sa.BigInteger(), type_=sa.Integer(), existing_nullable=False
        )
