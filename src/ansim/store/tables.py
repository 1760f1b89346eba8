"""Tables and the imperative mapping of domain classes onto them (the domain imports no SQLAlchemy)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import registry

from ansim.domain.deliveries import DeliveryChannel, DeliveryStatus, RecipientKind
from ansim.domain.incidents import Channel, Incident, IncidentEvent, IncidentStatus, PriorityCode
from ansim.domain.people import ChannelBinding, Guardian, Subscriber
from ansim.domain.school_guards import SchoolGuard
from ansim.domain.staff import Role, StaffSession, StaffUser
from ansim.domain.terminals import Terminal
from ansim.domain.units import Assignment, AssignmentState, Station, StationKind, Unit, UnitStatus
from ansim.domain.verification import Verification, VerificationState
from ansim.store.types import (
    EncryptedFloat,
    EncryptedSecret,
    EncryptedText,
    IntEnumColumn,
    LookupText,
    UTCDateTime,
    enum_column,
)

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
    sa.Column("name", EncryptedText, nullable=False),
    sa.Column("birth_year", sa.Integer, nullable=False),
    sa.Column("photo_url", EncryptedText, nullable=False, default=""),
    sa.Column("notes", EncryptedText, nullable=False, default=""),
    sa.Column("school", sa.String(200), nullable=False, default=""),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("consent_at", UTCDateTime),
)

guardians = sa.Table(
    "guardians",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("subscriber_id", ID, sa.ForeignKey("subscribers.id"), nullable=False, index=True),
    sa.Column("name", EncryptedText, nullable=False),
    sa.Column("phone", LookupText, nullable=False),
    sa.Column("relation", sa.String(50), nullable=False),
    sa.Column("email", EncryptedText, nullable=False, default=""),
    sa.Column("call_order", sa.Integer, nullable=False, default=1),
    # Message language, one of ansim.notify.templates.LANGUAGES.
    sa.Column("language", sa.String(8), nullable=False),
)

channel_bindings = sa.Table(
    "channel_bindings",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("subscriber_id", ID, sa.ForeignKey("subscribers.id"), nullable=False, index=True),
    sa.Column("channel", enum_column(Channel), nullable=False),
    sa.Column("address", LookupText, nullable=False),
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
    # A retired station keeps its rows (and its units' history) but takes no new units.
    sa.Column("retired_at", UTCDateTime),
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
    sa.Column("kind", sa.String(20), nullable=False, default="patrol_car"),
    # A retired unit is off duty for good: never ranked, its assignments kept.
    sa.Column("retired_at", UTCDateTime),
    # The sequence of the unit's own events (moved, status), taken under this row's lock.
    sa.Column("event_seq", sa.Integer, nullable=False, default=0, server_default="0"),
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
    sa.Column("caller_number", LookupText),
    sa.Column("lat", sa.Float),
    sa.Column("lon", sa.Float),
    sa.Column("radius_m", sa.Float),
    sa.Column("location_method", sa.String(20)),
    sa.Column("located_at", UTCDateTime),
    sa.Column("semi_major_m", sa.Float),
    sa.Column("semi_minor_m", sa.Float),
    sa.Column("orientation_deg", sa.Float),
    sa.Column("area_m2", sa.Float),
    sa.Column("growth_mps", sa.Float),
    sa.Column("duress", sa.Boolean, nullable=False, default=False),
    sa.Column("drill", sa.Boolean, nullable=False, default=False),
    sa.Column("sos_count", sa.Integer, nullable=False, default=1),
    sa.Column("previous_incident_id", ID, sa.ForeignKey("incidents.id"), index=True),
    sa.Column("waiting_for_units", sa.Integer, nullable=False, default=0, server_default="0"),
    sa.Column("waiting_since", UTCDateTime),
    # The sequence of the incident's events, taken under this row's lock (so it follows commit order).
    sa.Column("event_seq", sa.Integer, nullable=False, default=0, server_default="0"),
    sa.Column("person_cancelled", sa.Boolean, nullable=False, default=False),
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
    sa.Column("lat", EncryptedFloat, nullable=False),
    sa.Column("lon", EncryptedFloat, nullable=False),
    sa.Column("radius_m", sa.Float, nullable=False),
    sa.Column("method", sa.String(20), nullable=False),
    sa.Column("observed_at", UTCDateTime, nullable=False),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Column("source", sa.String(100), nullable=False),
    sa.Column("altitude_m", sa.Float),
    sa.Column("floor", sa.Integer),
    sa.Column("speed_mps", sa.Float),
    sa.Column("heading_deg", sa.Float),
    # What fusion made of the fix: accepted, gated, duplicate or refused (kept for the audit).
    sa.Column("verdict", sa.String(20), nullable=False, server_default="accepted"),
    sa.Column("verdict_reason", sa.String(300), nullable=False, server_default=""),
)

# Where each incident's location track stands after its newest fix (a TrackCheckpoint as JSON),
# so new fixes are filtered on it instead of replaying every stored fix; encrypted like the fixes.
location_tracks = sa.Table(
    "location_tracks",
    metadata,
    sa.Column("incident_id", ID, sa.ForeignKey("incidents.id"), primary_key=True),
    sa.Column("checkpoint", EncryptedText, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
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
    # PostgreSQL: the writer's transaction id (readers are complete below the visibility horizon).
    sa.Column("xid", sa.BigInteger, index=True),
    # The event's place among its incident's events (or, without an incident, its unit's).
    sa.Column("seq", sa.Integer),
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
    sa.Column("enrolment_only", sa.Boolean, nullable=False, default=False),
)

# Security (ansim.security): second factors, login throttling, the hash-chained audit log.
staff_second_factors = sa.Table(
    "staff_second_factors",
    metadata,
    sa.Column("user_id", ID, sa.ForeignKey("staff_users.id"), primary_key=True),
    sa.Column("totp_secret", EncryptedText, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("confirmed_at", UTCDateTime),
    # The last accepted time step: a code is good once (no replay within its 30 s window).
    sa.Column("last_step", sa.Integer, nullable=False, default=0),
)

# A one-time code an admin gives a person out of band to enrol their authenticator (no trust on
# first use: the password alone does not enrol a factor). Kept hashed; spent when enrolment starts.
staff_enrolment_codes = sa.Table(
    "staff_enrolment_codes",
    metadata,
    sa.Column("user_id", ID, sa.ForeignKey("staff_users.id"), primary_key=True),
    sa.Column("code_hash", sa.String(200), nullable=False),
    sa.Column("issued_by", sa.String(100), nullable=False),
    sa.Column("issued_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
)

staff_recovery_codes = sa.Table(
    "staff_recovery_codes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("user_id", ID, sa.ForeignKey("staff_users.id"), nullable=False, index=True),
    sa.Column("code_hash", sa.String(200), nullable=False),
    sa.Column("used_at", UTCDateTime),
)

auth_throttle = sa.Table(
    "auth_throttle",
    metadata,
    # "user:<name>", "ip:<address>", "otp:<user id>"...
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("failures", sa.Integer, nullable=False, default=0),
    sa.Column("last_failure_at", UTCDateTime),
    sa.Column("locked_until", UTCDateTime),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", UTCDateTime, nullable=False, index=True),
    sa.Column("actor", sa.String(100), nullable=False, index=True),
    sa.Column("role", sa.String(30), nullable=False),
    sa.Column("action", sa.String(60), nullable=False, index=True),
    sa.Column("ip", sa.String(64), nullable=False, default=""),
    sa.Column("incident_id", sa.String(100), index=True),
    sa.Column("subject", sa.String(200), nullable=False, default=""),
    sa.Column("detail", sa.JSON, nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)

# PostgreSQL: audit entries of committed transactions waiting for their place in the chain. Writers
# append here without a lock; one sealer at a time chains them (below the visibility horizon).
audit_pending = sa.Table(
    "audit_pending",
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
    sa.Column("xid", sa.BigInteger, nullable=False, index=True),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("actor", sa.String(100), nullable=False),
    sa.Column("role", sa.String(30), nullable=False),
    sa.Column("action", sa.String(60), nullable=False),
    sa.Column("ip", sa.String(64), nullable=False),
    sa.Column("incident_id", sa.String(100)),
    sa.Column("subject", sa.String(200), nullable=False),
    sa.Column("detail", sa.JSON, nullable=False),
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

# The center's own map data imported by `ansim import roads|districts` (one current document per kind),
# so every worker and the board use the same network; without one the bundled Seoul data is used.
center_maps = sa.Table(
    "center_maps",
    metadata,
    sa.Column("kind", sa.String(20), primary_key=True),
    sa.Column("document", sa.LargeBinary, nullable=False),  # gzip JSON
    sa.Column("source", sa.String(300), nullable=False),
    sa.Column("summary", sa.JSON, nullable=False),
    sa.Column("imported_at", UTCDateTime, nullable=False),
    sa.Column("imported_by", sa.String(100), nullable=False),
)

# The districts (자치구) a staff member works: a CCTV operator watches only these.
staff_districts = sa.Table(
    "staff_districts",
    metadata,
    sa.Column("user_id", ID, sa.ForeignKey("staff_users.id"), primary_key=True),
    sa.Column("district", sa.String(20), primary_key=True),
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

verifications = sa.Table(
    "verifications",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("incident_id", ID, sa.ForeignKey("incidents.id"), nullable=False, unique=True),
    sa.Column("state", enum_column(VerificationState), nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("due_at", UTCDateTime, nullable=False),
    sa.Column("decided_at", UTCDateTime),
    sa.Column("reason", sa.String(500), nullable=False, default=""),
    sa.Column("stand_down_requested", sa.Boolean, nullable=False, default=False),
)

verification_answers = sa.Table(
    "verification_answers",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("incident_id", ID, sa.ForeignKey("incidents.id"), nullable=False, index=True),
    sa.Column("recipient_id", ID, nullable=False),
    sa.Column("source", sa.String(20), nullable=False),
    sa.Column("answer", sa.String(20), nullable=False),
    sa.Column("actor", sa.String(100), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    # "<incident>:<guardian>" for answers from a guardian link: one answer per link, a replay is refused.
    sa.Column("once_key", sa.String(80), unique=True),
)

deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("incident_id", ID, sa.ForeignKey("incidents.id"), index=True),
    sa.Column("subscriber_id", ID, sa.ForeignKey("subscribers.id"), index=True),
    sa.Column("recipient_kind", enum_column(RecipientKind), nullable=False),
    sa.Column("recipient_id", ID, nullable=False),
    sa.Column("channel", enum_column(DeliveryChannel), nullable=False),
    # Who it goes to and what it says are personal: encrypted like the guardian rows they come from.
    sa.Column("address", EncryptedText, nullable=False),
    sa.Column("language", sa.String(8), nullable=False),
    sa.Column("template", sa.String(50), nullable=False),
    sa.Column("subject", EncryptedText, nullable=False),
    sa.Column("body", EncryptedText, nullable=False),
    sa.Column("status", enum_column(DeliveryStatus), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("next_attempt_at", UTCDateTime, nullable=False, index=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("sent_at", UTCDateTime),
    sa.Column("delivered_at", UTCDateTime),
    sa.Column("provider_ref", sa.String(200), nullable=False, default=""),
    sa.Column("last_error", sa.String(500), nullable=False, default=""),
    # The same message is never queued twice (an SOS alert and the verification link share one key).
    sa.Column("dedupe_key", sa.String(200), nullable=False, unique=True),
)

school_guards = sa.Table(
    "school_guards",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("school", sa.String(200), nullable=False, index=True),
    sa.Column("name", EncryptedText, nullable=False),
    sa.Column("phone", EncryptedText, nullable=False),
    sa.Column("duty_start", sa.String(5), nullable=False),
    sa.Column("duty_end", sa.String(5), nullable=False),
    sa.Column("weekdays", sa.String(7), nullable=False, default="01234"),
    sa.Column("email", sa.String(200), nullable=False, default=""),
    sa.Column("language", sa.String(8), nullable=False, default="ko"),
    sa.Column("active", sa.Boolean, nullable=False, default=True),
)

# --- intake (issue 3): carriers, terminals, handset fixes, app accounts, enrolment audit ---

carriers = sa.Table(
    "carriers",
    metadata,
    sa.Column("id", sa.String(50), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    # HMAC needs the shared secret itself on both sides; encrypted at rest, never shown again.
    sa.Column("secret", EncryptedSecret, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("disabled", sa.Boolean, nullable=False, default=False),
    # The carrier's location server (HELD, RFC 5985) for re-locating its callers; the password
    # is encrypted at rest (migration 0006_carrier_lis).
    sa.Column("lis_url", sa.String(500), nullable=True),
    sa.Column("lis_username", sa.String(200), nullable=True),
    sa.Column("lis_password", EncryptedText, nullable=True),
)

# Every HELD re-location request for an incident and what came of it (the board shows the last).
relocations = sa.Table(
    "relocations",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("incident_id", ID, sa.ForeignKey("incidents.id"), nullable=False, index=True),
    sa.Column("carrier_id", sa.String(50), nullable=False),
    sa.Column("requested_at", UTCDateTime, nullable=False),
    sa.Column("outcome", sa.String(20), nullable=False),  # located / failed / refused
    sa.Column("fixes", sa.Integer, nullable=False, default=0),
    sa.Column("detail", sa.String(500), nullable=False, default=""),
)

seen_signatures = sa.Table(
    "seen_signatures",
    metadata,
    sa.Column("scope", sa.String(100), primary_key=True),
    sa.Column("digest", sa.String(64), primary_key=True),
    sa.Column("at", UTCDateTime, nullable=False, index=True),
)

terminals = sa.Table(
    "terminals",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("subscriber_id", ID, sa.ForeignKey("subscribers.id"), nullable=False, index=True),
    sa.Column("secret", EncryptedSecret, nullable=False),
    sa.Column("reporting_interval_s", sa.Integer, nullable=False),
    sa.Column("enrolled_at", UTCDateTime, nullable=False),
    sa.Column("enrolled_by", sa.String(100), nullable=False),
    sa.Column("last_seq", sa.BigInteger, nullable=False, default=0),
    sa.Column("last_digest", sa.String(64), nullable=False, default=""),
    sa.Column("last_seen_at", UTCDateTime),
    sa.Column("battery_pct", sa.Integer),
    sa.Column("signal_dbm", sa.Integer),
    sa.Column("low_battery", sa.Boolean, nullable=False, default=False),
    sa.Column("lost", sa.Boolean, nullable=False, default=False),
    sa.Column("config_version", sa.Integer, nullable=False, default=1),
    sa.Column("disabled", sa.Boolean, nullable=False, default=False),
)

handset_fixes = sa.Table(
    "handset_fixes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("channel", sa.String(10), nullable=False),
    # Keyed lookups: AML/ELS fixes still find their call by number or IMEI (issue 19).
    sa.Column("caller_number", LookupText, index=True),
    sa.Column("imei", LookupText, index=True),
    sa.Column("incident_id", ID, sa.ForeignKey("incidents.id"), index=True),
    sa.Column("lat", EncryptedFloat, nullable=False),
    sa.Column("lon", EncryptedFloat, nullable=False),
    sa.Column("radius_m", sa.Float, nullable=False),
    sa.Column("method", sa.String(20), nullable=False),
    sa.Column("observed_at", UTCDateTime, nullable=False),
    sa.Column("received_at", UTCDateTime, nullable=False, index=True),
    sa.Column("source", sa.String(100), nullable=False),
    sa.Column("altitude_m", sa.Float),
    sa.Column("floor", sa.Integer),
    sa.Column("speed_mps", sa.Float),
    sa.Column("heading_deg", sa.Float),
)

intake_discards = sa.Table(
    "intake_discards",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("channel", sa.String(20), nullable=False),
    sa.Column("reason", sa.String(100), nullable=False, index=True),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("detail", sa.String(500), nullable=False, default=""),
)

otp_challenges = sa.Table(
    "otp_challenges",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("phone_number", LookupText, nullable=False, index=True),
    sa.Column("client_id", sa.String(100), nullable=False, index=True),
    sa.Column("code_hash", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False, index=True),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("verified_at", UTCDateTime),
)


subscriber_pins = sa.Table(
    "subscriber_pins",
    metadata,
    sa.Column("subscriber_id", ID, sa.ForeignKey("subscribers.id"), primary_key=True),
    sa.Column("pin_hash", sa.String(200), nullable=False),
    sa.Column("duress_pin_hash", sa.String(200), nullable=False),
    sa.Column("set_at", UTCDateTime, nullable=False),
    sa.Column("failed_attempts", sa.Integer, nullable=False, default=0),
)

enrolment_audit = sa.Table(
    "enrolment_audit",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("subscriber_id", ID, nullable=False, index=True),
    sa.Column("actor", sa.String(100), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("action", sa.String(50), nullable=False),
    sa.Column("changes", sa.JSON, nullable=False),
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
    (Verification, verifications),
    (SchoolGuard, school_guards),
    (Terminal, terminals),
]


def start_mappers() -> None:
    """Maps the domain classes once per process; calling again is harmless."""
    for cls, table in _MAPPED:
        if not hasattr(cls, "__mapper__"):
            mapper_registry.map_imperatively(cls, table)
