"""security: second factors, login throttling, audit log, encrypted personal data columns

Encrypted columns become text; existing plain values stay readable (no prefix) until
`ansim keys rotate` encrypts them.

Revision ID: 0003_security
Revises: 0003_dispatch
Create Date: 2026-11-29 00:28:41.442613
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_security"
down_revision: str | None = "0003_intake"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=30), nullable=False),
        sa.Column("action", sa.String(length=60), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("incident_id", sa.String(length=100), nullable=True),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_log_action"), ["action"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_log_actor"), ["actor"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_log_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_log_incident_id"), ["incident_id"], unique=False)

    op.create_table(
        "auth_throttle",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_auth_throttle")),
    )
    op.create_table(
        "staff_recovery_codes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("code_hash", sa.String(length=200), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["staff_users.id"],
            name=op.f("fk_staff_recovery_codes_user_id_staff_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_recovery_codes")),
    )
    with op.batch_alter_table("staff_recovery_codes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_staff_recovery_codes_user_id"), ["user_id"], unique=False
        )

    op.create_table(
        "staff_second_factors",
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("totp_secret", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_step", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["staff_users.id"],
            name=op.f("fk_staff_second_factors_user_id_staff_users"),
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_staff_second_factors")),
    )
    with op.batch_alter_table("channel_bindings", schema=None) as batch_op:
        batch_op.alter_column(
            "address",
            existing_type=sa.VARCHAR(length=200),
            type_=sa.Text(),
            existing_nullable=False,
        )

    with op.batch_alter_table("guardians", schema=None) as batch_op:
        batch_op.alter_column(
            "name", existing_type=sa.VARCHAR(length=200), type_=sa.Text(), existing_nullable=False
        )
        batch_op.alter_column(
            "phone", existing_type=sa.VARCHAR(length=32), type_=sa.Text(), existing_nullable=False
        )
        batch_op.alter_column(
            "email", existing_type=sa.VARCHAR(length=200), type_=sa.Text(), existing_nullable=False
        )

    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.alter_column(
            "caller_number",
            existing_type=sa.VARCHAR(length=32),
            type_=sa.Text(),
            existing_nullable=True,
        )

    with op.batch_alter_table("location_fixes", schema=None) as batch_op:
        batch_op.alter_column(
            "lat",
            existing_type=sa.FLOAT(),
            type_=sa.Text(),
            existing_nullable=False,
            postgresql_using="lat::text",
        )
        batch_op.alter_column(
            "lon",
            existing_type=sa.FLOAT(),
            type_=sa.Text(),
            existing_nullable=False,
            postgresql_using="lon::text",
        )

    with op.batch_alter_table("staff_sessions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("enrolment_only", sa.Boolean(), nullable=False, server_default=sa.false())
        )

    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.alter_column(
            "name", existing_type=sa.VARCHAR(length=200), type_=sa.Text(), existing_nullable=False
        )
        batch_op.alter_column(
            "photo_url",
            existing_type=sa.VARCHAR(length=500),
            type_=sa.Text(),
            existing_nullable=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.alter_column(
            "photo_url",
            existing_type=sa.Text(),
            type_=sa.VARCHAR(length=500),
            existing_nullable=False,
        )
        batch_op.alter_column(
            "name", existing_type=sa.Text(), type_=sa.VARCHAR(length=200), existing_nullable=False
        )

    with op.batch_alter_table("staff_sessions", schema=None) as batch_op:
        batch_op.drop_column("enrolment_only")

    with op.batch_alter_table("location_fixes", schema=None) as batch_op:
        batch_op.alter_column(
            "lon",
            existing_type=sa.Text(),
            type_=sa.FLOAT(),
            existing_nullable=False,
            postgresql_using="lon::double precision",
        )
        batch_op.alter_column(
            "lat",
            existing_type=sa.Text(),
            type_=sa.FLOAT(),
            existing_nullable=False,
            postgresql_using="lat::double precision",
        )

    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.alter_column(
            "caller_number",
            existing_type=sa.Text(),
            type_=sa.VARCHAR(length=32),
            existing_nullable=True,
        )

    with op.batch_alter_table("guardians", schema=None) as batch_op:
        batch_op.alter_column(
            "email", existing_type=sa.Text(), type_=sa.VARCHAR(length=200), existing_nullable=False
        )
        batch_op.alter_column(
            "phone", existing_type=sa.Text(), type_=sa.VARCHAR(length=32), existing_nullable=False
        )
        batch_op.alter_column(
            "name", existing_type=sa.Text(), type_=sa.VARCHAR(length=200), existing_nullable=False
        )

    with op.batch_alter_table("channel_bindings", schema=None) as batch_op:
        batch_op.alter_column(
            "address",
            existing_type=sa.Text(),
            type_=sa.VARCHAR(length=200),
            existing_nullable=False,
        )

    op.drop_table("staff_second_factors")
    with op.batch_alter_table("staff_recovery_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_recovery_codes_user_id"))

    op.drop_table("staff_recovery_codes")
    op.drop_table("auth_throttle")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_incident_id"))
        batch_op.drop_index(batch_op.f("ix_audit_log_at"))
        batch_op.drop_index(batch_op.f("ix_audit_log_actor"))
        batch_op.drop_index(batch_op.f("ix_audit_log_action"))

    op.drop_table("audit_log")
