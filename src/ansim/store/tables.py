"""Tables and the imperative mapping of domain classes onto them (the domain imports no SQLAlchemy)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import registry

from ansim.domain.incidents import Channel, Incident, IncidentEvent, IncidentStatus, PriorityCode
from ansim.domain.people import ChannelBinding, Guardian, Subscriber
from ansim.domain.staff import Role, StaffSession, StaffUser
from ansim.domain.units import Assignment, AssignmentState, Station, StationKind, Unit, UnitStatus
from ansim.store.types import IntEnumColumn, UTCDateTime, enum_column

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)
ID = sa.String(36)

subscribers = sa.Table(
    "subscribers",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("birth_year", sa.Integer, nullable=False),
    sa.Column("photo_url", sa.String(500), nullable=False, default=""),
    sa.Column("notes", sa.Text, nullable=False, default=""),
    sa.Column("school", sa.String(200), nullable=False, default=""),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("consent_at", UTCDateTime),
)

guardians = sa.Table(
    "guardians",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("subscriber_id", ID, sa.ForeignKey("subscribers.id"), nullable=False, index=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("phone", sa.String(32), nullable=False),
    sa.Column("relation", sa.String(50), nullable=False),
    sa.Column("email", sa.String(200), nullable=False, default=""),
    sa.Column("call_order", sa.Integer, nullable=False, default=1),
)

channel_bindings = sa.Table(
    "channel_bindings",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("subscriber_id", ID, sa.ForeignKey("subscribers.id"), nullable=False, index=True),
    sa.Column("channel", enum_column(Channel), nullable=False),
    sa.Column("address", sa.String(200), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("credential_hash", sa.String(200), nullable=False, default=""),
    sa.UniqueConstraint("channel", "address", name="uq_channel_bindings_channel_address"),
)

stations = sa.Table(
    "stations",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("kind", enum_column(StationKind), nullable=False),
    sa.Column("lat", sa.Float, nullable=False),
    sa.Column("lon", sa.Float, nullable=False),
    sa.Column("district", sa.String(50), nullable=False, default=""),
)

units = sa.Table(
    "units",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("call_sign", sa.String(50), nullable=False, unique=True),
    sa.Column("station_id", ID, sa.ForeignKey("stations.id"), nullable=False),
    sa.Column("status", enum_column(UnitStatus), nullable=False),
    sa.Column("status_at", UTCDateTime, nullable=False),
    sa.Column("lat", sa.Float),
    sa.Column("lon", sa.Float),
    sa.Column("position_at", UTCDateTime),
)

incidents = sa.Table(
    "incidents",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("channel", enum_column(Channel), nullable=False),
    sa.Column("status", enum_column(IncidentStatus), nullable=False, index=True),
    sa.Column("priority", IntEnumColumn(PriorityCode), nullable=False),
    sa.Column("received_at", UTCDateTime, nullable=False, index=True),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("subscriber_id", ID, sa.ForeignKey("subscribers.id"), index=True),
    sa.Column("caller_number", sa.String(32)),
    sa.Column("lat", sa.Float),
    sa.Column("lon", sa.Float),
    sa.Column("radius_m", sa.Float),
    sa.Column("location_method", sa.String(20)),
    sa.Column("located_at", UTCDateTime),
    sa.Column("duress", sa.Boolean, nullable=False, default=False),
    sa.Column("drill", sa.Boolean, nullable=False, default=False),
    sa.Column("sos_count", sa.Integer, nullable=False, default=1),
)

incident_events = sa.Table(
    "incident_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("incident_id", ID, sa.ForeignKey("incidents.id"), nullable=False, index=True),
    sa.Column("kind", sa.String(50), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("actor", sa.String(100), nullable=False),
    sa.Column("data", sa.JSON, nullable=False),
)

location_fixes = sa.Table(
    "location_fixes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("incident_id", ID, sa.ForeignKey("incidents.id"), nullable=False, index=True),
    sa.Column("lat", sa.Float, nullable=False),
    sa.Column("lon", sa.Float, nullable=False),
    sa.Column("radius_m", sa.Float, nullable=False),
    sa.Column("method", sa.String(20), nullable=False),
    sa.Column("observed_at", UTCDateTime, nullable=False),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Column("source", sa.String(100), nullable=False),
    sa.Column("altitude_m", sa.Float),
    sa.Column("floor", sa.Integer),
    sa.Column("speed_mps", sa.Float),
    sa.Column("heading_deg", sa.Float),
)

assignments = sa.Table(
    "assignments",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("incident_id", ID, sa.ForeignKey("incidents.id"), nullable=False, index=True),
    sa.Column("unit_id", ID, sa.ForeignKey("units.id"), nullable=False, index=True),
    sa.Column("state", enum_column(AssignmentState), nullable=False),
    sa.Column("ordered_at", UTCDateTime, nullable=False),
    sa.Column("ordered_by", sa.String(100), nullable=False),
    sa.Column("acknowledged_at", UTCDateTime),
    sa.Column("arrived_at", UTCDateTime),
    sa.Column("cleared_at", UTCDateTime),
    sa.Column("eta_s", sa.Float),
    sa.Column("ack_due_at", UTCDateTime),
    sa.Column("end_reason", sa.String(200), nullable=False, default="", server_default=""),
)

idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("scope", sa.String(100), primary_key=True),
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("incident_id", ID, sa.ForeignKey("incidents.id"), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("type", sa.String(50), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("incident_id", ID),
    sa.Column("unit_id", ID),
    sa.Column("data", sa.JSON, nullable=False),
    sa.Column("published_at", UTCDateTime, index=True),
)

deadlines = sa.Table(
    "deadlines",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("kind", sa.String(50), nullable=False),
    sa.Column("subject_id", sa.String(100), nullable=False, index=True),
    sa.Column("due_at", UTCDateTime, nullable=False, index=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("fired_at", UTCDateTime),
    sa.Column("cancelled_at", UTCDateTime),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("data", sa.JSON, nullable=False),
)

staff_users = sa.Table(
    "staff_users",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("username", sa.String(100), nullable=False, unique=True),
    sa.Column("display_name", sa.String(200), nullable=False),
    sa.Column("role", enum_column(Role), nullable=False),
    sa.Column("password_hash", sa.String(200), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("unit_id", ID, sa.ForeignKey("units.id")),
    sa.Column("disabled", sa.Boolean, nullable=False, default=False),
)

staff_sessions = sa.Table(
    "staff_sessions",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("user_id", ID, sa.ForeignKey("staff_users.id"), nullable=False, index=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Column("revoked", sa.Boolean, nullable=False, default=False),
)

unit_status_changes = sa.Table(
    "unit_status_changes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("unit_id", ID, sa.ForeignKey("units.id"), nullable=False, index=True),
    sa.Column("previous", enum_column(UnitStatus), nullable=False),
    sa.Column("status", enum_column(UnitStatus), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False, index=True),
    sa.Column("incident_id", ID, sa.ForeignKey("incidents.id")),
    sa.Column("actor", sa.String(100), nullable=False),
)

cameras = sa.Table(
    "cameras",
    metadata,
    sa.Column("id", ID, primary_key=True),
    # Stable identity of an imported row, so a re-import updates instead of duplicating.
    sa.Column("site_key", sa.String(64), nullable=False, unique=True),
    sa.Column("source", sa.String(200), nullable=False),
    sa.Column("gu", sa.String(20), nullable=False, index=True),
    sa.Column("address", sa.String(300), nullable=False),
    sa.Column("lat", sa.Float, nullable=False),
    sa.Column("lon", sa.Float, nullable=False),
    sa.Column("purpose", sa.String(50), nullable=False),
    sa.Column("camera_count", sa.Integer, nullable=False),
    sa.Column("pixels", sa.Integer),
    sa.Column("direction_text", sa.String(100), nullable=False, default=""),
    sa.Column("bearing_deg", sa.Float),
    sa.Column("omnidirectional", sa.Boolean, nullable=False, default=False),
    sa.Column("retention_days", sa.Integer),
    sa.Column("manager", sa.String(100), nullable=False, default=""),
    sa.Column("ptz", sa.Boolean, nullable=False, default=False),
    sa.Column("onvif_url", sa.String(500)),
    sa.Column("onvif_username", sa.String(100)),
    sa.Column("onvif_password", sa.String(200)),
    sa.Column("onvif_profile", sa.String(100)),
    sa.Column("onvif_preset", sa.String(100)),
    sa.Column("stream_url", sa.String(500)),
    sa.Column("fov_deg", sa.Float),
    sa.Column("range_m", sa.Float),
    sa.Column("pan_zero_deg", sa.Float, nullable=False, default=0.0),
    sa.Column("mount_height_m", sa.Float, nullable=False, default=4.0),
    sa.Column("updated_at", UTCDateTime, nullable=False, index=True),
)

cctv_operator_areas = sa.Table(
    "cctv_operator_areas",
    metadata,
    sa.Column("user_id", ID, sa.ForeignKey("staff_users.id"), primary_key=True),
    sa.Column("gu", sa.String(20), nullable=False),
    sa.Column("assigned_at", UTCDateTime, nullable=False),
    sa.Column("assigned_by", sa.String(100), nullable=False),
)

cctv_view_log = sa.Table(
    "cctv_view_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("user_id", ID, sa.ForeignKey("staff_users.id"), nullable=False, index=True),
    sa.Column("username", sa.String(100), nullable=False),
    sa.Column("incident_id", ID, sa.ForeignKey("incidents.id"), index=True),
    sa.Column("camera_id", ID),
    sa.Column("action", sa.String(30), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False, index=True),
    sa.Column("data", sa.JSON, nullable=False),
)

cctv_bookmarks = sa.Table(
    "cctv_bookmarks",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("incident_id", ID, sa.ForeignKey("incidents.id"), nullable=False, index=True),
    sa.Column("camera_id", ID, sa.ForeignKey("cameras.id"), nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("actor", sa.String(100), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("detail", sa.String(300), nullable=False, default=""),
)

mapper_registry = registry(metadata=metadata)
_MAPPED: list[tuple[type, sa.Table]] = [
    (Subscriber, subscribers),
    (Guardian, guardians),
    (ChannelBinding, channel_bindings),
    (Station, stations),
    (Unit, units),
    (Incident, incidents),
    (IncidentEvent, incident_events),
    (Assignment, assignments),
    (StaffUser, staff_users),
    (StaffSession, staff_sessions),
]


def start_mappers() -> None:
    """Maps the domain classes once per process; calling again is harmless."""
    for cls, table in _MAPPED:
        if not hasattr(cls, "__mapper__"):
            mapper_registry.map_imperatively(cls, table)
