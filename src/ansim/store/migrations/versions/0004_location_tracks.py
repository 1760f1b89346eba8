"""location tracks: each incident's filter checkpoint, so a fix is not a replay of all fixes

Revision ID: 0004_location_tracks
Revises: 0003_security
Create Date: 2026-11-30 03:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_location_tracks"
down_revision: str | None = "0004_guardian_language"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Incidents with fixes but no checkpoint yet get one from a replay at their next fix.
    op.create_table(
        "location_tracks",
        sa.Column("incident_id", sa.String(length=36), nullable=False),
        sa.Column("checkpoint", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_location_tracks_incident_id_incidents"),
        ),
        sa.PrimaryKeyConstraint("incident_id", name=op.f("pk_location_tracks")),
    )


def downgrade() -> None:
    op.drop_table("location_tracks")
