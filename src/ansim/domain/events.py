"""Typed, versioned event schemas: what leaves the outbox for boards, units and devices."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class EventData(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Location(EventData):
    """The fused estimate; the 95 % ellipse fields are optional (absent before version 1.1)."""

    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    radius_m: float = Field(ge=0)
    method: str
    located_at: datetime
    semi_major_m: float | None = Field(default=None, ge=0)
    semi_minor_m: float | None = Field(default=None, ge=0)
    orientation_deg: float | None = Field(default=None, ge=0, le=360)
    area_m2: float | None = Field(default=None, ge=0)
    # How fast the single figure grows after located_at, m/s (optional: older payloads lack it
    # and readers take walking pace).
    growth_mps: float | None = Field(default=None, ge=0)


class IncidentReceived(EventData):
    incident_id: str
    channel: Literal["one_touch", "app", "terminal"]
    status: str
    priority: int = Field(ge=0, le=4)
    received_at: datetime
    subscriber_id: str | None
    unknown_caller: bool
    drill: bool
    location: Location | None
    # The person's cancelled or closed incident this SOS came after (absent before version 1.1).
    previous_incident_id: str | None = None


class IncidentStatusChanged(EventData):
    incident_id: str
    previous: str = Field(alias="from")
    status: str = Field(alias="to")
    reason: str

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class IncidentPriorityChanged(EventData):
    incident_id: str
    previous: int = Field(alias="from", ge=0, le=4)
    priority: int = Field(alias="to", ge=0, le=4)
    reason: str

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class IncidentLocated(EventData):
    incident_id: str
    location: Location


class IncidentRelocated(EventData):
    """The caller's carrier was asked where the caller is (HELD); fixes come as incident.located."""

    incident_id: str
    carrier_id: str
    outcome: Literal["located", "failed", "refused"]
    fixes: int = Field(ge=0)
    requested_at: datetime


class SosRepeated(EventData):
    """Another SOS from the same person joined the open incident."""

    incident_id: str
    channel: Literal["one_touch", "app", "terminal"]
    sos_count: int = Field(ge=2)


class UnitOrdered(EventData):
    incident_id: str
    unit_id: str
    assignment_id: str
    call_sign: str
    ordered_by: str
    eta_s: float | None = Field(default=None, ge=0)
    # v2: when the order moves to the next unit unless the unit acknowledges it.
    ack_due_at: datetime | None = None


class AssignmentChanged(EventData):
    incident_id: str
    unit_id: str
    assignment_id: str
    state: str
    # v2: why an order ended early (declined, timed out, pre-empted).
    reason: str = ""


class AssignmentAckTimedOut(EventData):
    """A unit did not acknowledge in time; the order moved to the next unit by ETA, if any."""

    incident_id: str
    assignment_id: str
    unit_id: str
    call_sign: str
    next_assignment_id: str | None
    next_unit_id: str | None
    next_call_sign: str | None
    reason: str


class UnitPreempted(EventData):
    """A dispatcher took a unit off a code 2-4 job for a code 0/1 incident."""

    unit_id: str
    call_sign: str
    from_incident_id: str
    to_incident_id: str
    confirmed_by: str


class IncidentRequeued(EventData):
    """An incident lost its unit and waits in the queue (or got the next unit at once)."""

    incident_id: str
    reason: str
    next_assignment_id: str | None
    next_call_sign: str | None


class UnitStatusChanged(EventData):
    unit_id: str
    call_sign: str
    previous: str
    status: str
    incident_id: str | None


class UnitChanged(EventData):
    """An admin edited the unit (call sign, kind, station): the same row, so its history stays."""

    unit_id: str
    call_sign: str
    previous_call_sign: str
    kind: str
    station_id: str


class UnitMoved(EventData):
    unit_id: str
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    at: datetime


class CameraAimed(EventData):
    """A PTZ camera was turned toward the estimate (or could not be)."""

    incident_id: str
    camera_id: str
    camera_label: str
    status: Literal["moved", "preset", "unreachable"]
    pan: float | None = Field(default=None, ge=-1, le=1)
    tilt: float | None = Field(default=None, ge=-1, le=1)
    zoom: float | None = Field(default=None, ge=0, le=1)
    distance_m: float = Field(ge=0)
    message: str
    actor: str


class PersonSeen(EventData):
    """A CCTV operator saw the person on a camera."""

    incident_id: str
    camera_id: str
    camera_label: str
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    note: str
    seen_at: datetime
    actor: str


class ClipRequested(EventData):
    """A CCTV operator asked for a camera's recording to be kept as evidence."""

    incident_id: str
    camera_id: str
    camera_label: str
    start: datetime
    end: datetime
    note: str
    actor: str


class VerificationStarted(EventData):
    incident_id: str
    verification_id: str
    due_at: datetime
    guardians: int = Field(ge=0)


class VerificationAnswered(EventData):
    """A guardian's answer on the live page, or the outcome of a dispatcher's call."""

    incident_id: str
    recipient_id: str
    source: Literal["guardian_page", "dispatcher_call"]
    answer: Literal["safe", "danger", "no_answer"]
    actor: str


class VerificationDecided(EventData):
    incident_id: str
    state: Literal["danger", "mistake", "stood_down", "continued"]
    reason: str
    stand_down_requested: bool
    priority: int = Field(ge=0, le=4)


class GuardianUnreachable(EventData):
    """Every message to this recipient about the incident ended in the dead letter."""

    incident_id: str
    recipient_kind: Literal["guardian", "school_guard"]
    recipient_id: str


class DeliveryStatusChanged(EventData):
    delivery_id: str
    incident_id: str | None
    recipient_kind: Literal["guardian", "school_guard", "wearer", "app_user"]
    recipient_id: str
    channel: Literal["sms", "email", "terminal"]
    template: str
    status: Literal["queued", "sending", "sent", "delivered", "failed", "dead"]
    attempts: int = Field(ge=0)
    error: str


class IncidentDuress(EventData):
    """The person cancelled with the duress PIN: they were told "cancelled", help must hurry."""

    incident_id: str
    channel: Literal["one_touch", "app", "terminal"]


class CancelRefused(EventData):
    """A cancel came with a wrong PIN; it changed nothing."""

    incident_id: str
    failed_attempts: int = Field(ge=1)


class IntakeFlagEntry(EventData):
    kind: str = Field(max_length=50)
    detail: str = Field(default="", max_length=500)


class IntakeFlagged(EventData):
    """An SOS was taken despite a secondary problem (a fix re-timed or dropped, a skewed clock)."""

    incident_id: str
    channel: str
    flags: list[IntakeFlagEntry]


class TerminalSupervision(EventData):
    """A terminal went silent, came back, or its battery ran low (guardians and admins are told)."""

    terminal_id: str
    subscriber_id: str
    last_seen_at: datetime | None
    battery_pct: int | None = Field(ge=0, le=100)


class ProbeFired(EventData):
    """A scheduler probe fired: operators (and the fault tests) measure how late the scheduler runs."""

    deadline_id: str
    label: str
    due_at: datetime
    fired_at: datetime
    late_s: float


class DeadlineFailing(EventData):
    """A durable deadline whose handler keeps failing: still retried, now in front of a person."""

    kind: str
    subject_id: str
    attempts: int = Field(ge=1)
    error: str
    next_try_at: datetime


class LoginSprayingSuspected(EventData):
    """An address locked by failed logins spread over many names: a notice for the supervisor."""

    address: str
    at: datetime
    reason: str


class IncidentNoteAdded(EventData):
    """A dispatcher's note to the units on an incident (services/notes.py)."""

    incident_id: str
    text: str = Field(min_length=1, max_length=500)
    author: str
    at: datetime


EVENT_SCHEMAS: dict[str, tuple[int, type[EventData]]] = {
    "incident.received": (1, IncidentReceived),
    "incident.status_changed": (1, IncidentStatusChanged),
    "incident.priority_changed": (1, IncidentPriorityChanged),
    "incident.located": (1, IncidentLocated),
    "incident.relocated": (1, IncidentRelocated),
    "incident.sos_repeated": (1, SosRepeated),
    "unit.ordered": (2, UnitOrdered),
    "assignment.changed": (2, AssignmentChanged),
    "assignment.ack_timed_out": (1, AssignmentAckTimedOut),
    "unit.preempted": (1, UnitPreempted),
    "incident.requeued": (1, IncidentRequeued),
    "incident.note_added": (1, IncidentNoteAdded),
    "unit.status_changed": (1, UnitStatusChanged),
    "unit.moved": (1, UnitMoved),
    "unit.changed": (1, UnitChanged),
    "cctv.camera_aimed": (1, CameraAimed),
    "cctv.person_seen": (1, PersonSeen),
    "cctv.clip_requested": (1, ClipRequested),
    "verification.started": (1, VerificationStarted),
    "verification.answered": (1, VerificationAnswered),
    "verification.decided": (1, VerificationDecided),
    "verification.guardian_unreachable": (1, GuardianUnreachable),
    "notification.status_changed": (1, DeliveryStatusChanged),
    "incident.duress": (1, IncidentDuress),
    "incident.cancel_refused": (1, CancelRefused),
    "incident.intake_flagged": (1, IntakeFlagged),
    "terminal.lost": (1, TerminalSupervision),
    "terminal.recovered": (1, TerminalSupervision),
    "terminal.low_battery": (1, TerminalSupervision),
    "ops.probe_fired": (1, ProbeFired),
    "security.login_spraying": (1, LoginSprayingSuspected),
    "deadline.failing": (1, DeadlineFailing),
}


class IncidentEscalated(EventData):
    """Raised to code 0 with the code-0 dispatch policy behind it; the board and MDT re-alert."""

    incident_id: str
    priority: int = Field(ge=0, le=4)
    cause: Literal["guardian_danger", "no_answer", "duress", "dispatcher"]
    reason: str
    units_ordered: list[str]
    waiting_for_units: int = Field(ge=0)


class IncidentWaitingChanged(EventData):
    """How many units the policy still asks for; 0 ends the wait. No location yet: no unit can go."""

    incident_id: str
    waiting_for_units: int = Field(ge=0)
    waiting_since: datetime | None
    no_location: bool


class StandDownUnit(EventData):
    assignment_id: str
    unit_id: str
    call_sign: str


class StandDownRequested(EventData):
    """The person cancelled; units that acknowledged stay until a dispatcher decides."""

    incident_id: str
    reason: str
    units: list[StandDownUnit]


EVENT_SCHEMAS.update(
    {
        "incident.escalated": (1, IncidentEscalated),
        "incident.waiting_changed": (1, IncidentWaitingChanged),
        "incident.stand_down_requested": (1, StandDownRequested),
    }
)


class EventEnvelope(BaseModel):
    """What a subscriber receives; `type`+`version` name the schema.

    The id identifies the event (repeats are dropped by it); `seq` orders it among its incident's
    events (or, without an incident, its unit's). `horizon`, when set, promises that every event
    whose position is below it was delivered before or with this one: a resume cursor.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: int
    type: str
    version: int
    at: datetime
    incident_id: str | None
    unit_id: str | None
    data: dict[str, Any]
    seq: int | None = None
    horizon: int | None = None


def validate_event(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    """Validates `data` against the schema of `event_type` and returns its JSON form."""
    _version, schema = EVENT_SCHEMAS[event_type]
    return schema.model_validate(data).model_dump(mode="json", by_alias=True)


def event_version(event_type: str) -> int:
    return EVENT_SCHEMAS[event_type][0]
