"""Typed, versioned event schemas: what leaves the outbox for boards, units and devices."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class EventData(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Location(EventData):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    radius_m: float = Field(ge=0)
    method: str
    located_at: datetime


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


class AssignmentChanged(EventData):
    incident_id: str
    unit_id: str
    assignment_id: str
    state: str


class UnitStatusChanged(EventData):
    unit_id: str
    call_sign: str
    previous: str
    status: str
    incident_id: str | None


class UnitMoved(EventData):
    unit_id: str
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    at: datetime


class ProbeFired(EventData):
    """A scheduler probe fired: operators (and the fault tests) measure how late the scheduler runs."""

    deadline_id: str
    label: str
    due_at: datetime
    fired_at: datetime
    late_s: float


EVENT_SCHEMAS: dict[str, tuple[int, type[EventData]]] = {
    "incident.received": (1, IncidentReceived),
    "incident.status_changed": (1, IncidentStatusChanged),
    "incident.priority_changed": (1, IncidentPriorityChanged),
    "incident.located": (1, IncidentLocated),
    "incident.sos_repeated": (1, SosRepeated),
    "unit.ordered": (1, UnitOrdered),
    "assignment.changed": (1, AssignmentChanged),
    "unit.status_changed": (1, UnitStatusChanged),
    "unit.moved": (1, UnitMoved),
    "ops.probe_fired": (1, ProbeFired),
}


class EventEnvelope(BaseModel):
    """What a subscriber receives: the outbox id orders events, `type`+`version` name the schema."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: int
    type: str
    version: int
    at: datetime
    incident_id: str | None
    unit_id: str | None
    data: dict[str, Any]


def validate_event(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    """Validates `data` against the schema of `event_type` and returns its JSON form."""
    _version, schema = EVENT_SCHEMAS[event_type]
    return schema.model_validate(data).model_dump(mode="json", by_alias=True)


def event_version(event_type: str) -> int:
    return EVENT_SCHEMAS[event_type][0]
