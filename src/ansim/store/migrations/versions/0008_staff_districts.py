"""staff districts, fleet retirement, center maps (issue 17: stand up a real center)

A staff member (CCTV operators included) may hold several districts (자치구); units have a kind and
units and stations can be retired; the imported road network is stored; the app's one-time codes
leave as delivery records, so sms_outbox goes.

Revision ID: 0008_staff_districts
Revises: 0007_lifecycle
Create Date: 2026-12-05 01:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_staff_districts"
down_revision: str | None = "0007_lifecycle"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "staff_districts",
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("district", sa.String(length=20), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("assigned_by", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["staff_users.id"], name=op.f("fk_staff_districts_user_id_staff_users")
        ),
        sa.PrimaryKeyConstraint("user_id", "district", name=op.f("pk_staff_districts")),
    )
    # The one area each operator had becomes their first district.
    op.execute(
        "INSERT INTO staff_districts (user_id, district, assigned_at, assigned_by) "
        "SELECT user_id, gu, assigned_at, assigned_by FROM cctv_operator_areas"
    )
    op.drop_table("cctv_operator_areas")
    op.add_column(
        "units",
        sa.Column("kind", sa.String(length=20), nullable=False, server_default="patrol_car"),
    )
    op.add_column("units", sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("stations", sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "center_maps",
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("document", sa.LargeBinary(), nullable=False),
        sa.Column("source", sa.String(length=300), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("imported_by", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("kind", name=op.f("pk_center_maps")),
    )
    # The app's one-time codes are delivery records now (sent, retried, reported like any SMS);
    # a code still queued here expires in five minutes, so nothing is carried over.
    op.drop_index(op.f("ix_sms_outbox_sent_at"), table_name="sms_outbox")
    op.drop_table("sms_outbox")


def downgrade() -> None:
    op.create_table(
        "sms_outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("to_number", sa.Text(), nullable=False),
        sa.Column("purpose", sa.String(length=30), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_outbox")),
    )
    op.create_index(op.f("ix_sms_outbox_sent_at"), "sms_outbox", ["sent_at"], unique=False)
    op.drop_table("center_maps")
    # Plain DROP COLUMN (SQLite 3.35+ has it): a batch copy of `units` trips its foreign keys.
    for table, column in (("stations", "retired_at"), ("units", "retired_at"), ("units", "kind")):
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    op.create_table(
        "cctv_operator_areas",
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("gu", sa.String(length=20), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("assigned_by", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["staff_users.id"], name=op.f("fk_cctv_operator_areas_user_id_staff_users")
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_cctv_operator_areas")),
    )
    # An operator with several districts keeps the first by name (the old schema holds one).
    op.execute(
        "INSERT INTO cctv_operator_areas (user_id, gu, assigned_at, assigned_by) "
        "SELECT user_id, MIN(district), MIN(assigned_at), MIN(assigned_by) FROM staff_districts "
        "GROUP BY user_id"
    )
    op.drop_table("staff_districts")
