"""Request and response bodies of the HTTP API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    ValidationError,
    model_validator,
)

from ansim.domain.fixes import FixMethod
from ansim.domain.incidents import IncidentStatus
from ansim.domain.staff import Role
from ansim.domain.units import UnitStatus


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FixIn(Body):
    lat: float = Field(ge=-90, le=90, description="WGS84 latitude, degrees")
    lon: float = Field(ge=-180, le=180, description="WGS84 longitude, degrees")
    accuracy_m: float = Field(ge=0, le=50_000, description="horizontal uncertainty radius, metres")
    # From 1 %: below it the 95 % radius conversion divides by ln(1 - p) = 0 (found by the fuzz test).
    confidence: float = Field(
        default=0.68,
        ge=0.01,
        lt=1,
        description="probability inside accuracy_m (Android reports 68 %)",
    )
    method: FixMethod = FixMethod.UNKNOWN
    observed_at: datetime | None = Field(
        default=None, description="time of the fix, with zone; default: now"
    )


class AppSosIn(Body):
    fix: FixIn | None = Field(
        default=None, description="an unusable fix is dropped (and flagged); the SOS is kept"
    )
    _unusable: tuple[str, ...] = PrivateAttr(default=())

    @model_validator(mode="wrap")
    @classmethod
    def _drop_unusable_fix(
        cls, data: Any, handler: ModelWrapValidatorHandler[AppSosIn]
    ) -> AppSosIn:
        """A fix that fails validation is dropped before the SOS is: the press always counts."""
        problem: str | None = None
        if isinstance(data, dict) and data.get("fix") is not None:
            try:
                FixIn.model_validate(data["fix"])
            except ValidationError as err:
                first = err.errors()[0]
                where = ".".join(str(part) for part in first["loc"]) or "value"
                problem = f"fix {where}: {first['msg']}"[:200]
                data = {**data, "fix": None}
        sos = handler(data)
        sos._unusable = (problem,) if problem else ()
        return sos

    @property
    def unusable_fixes(self) -> tuple[str, ...]:
        return self._unusable


class SosAck(BaseModel):
    incident_id: str
    status: IncidentStatus
    replayed: bool = Field(description="true when this idempotency key was already acknowledged")


class LoginIn(Body):
    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=200)


class StaffOut(BaseModel):
    id: str
    username: str
    display_name: str
    role: Role
    unit_id: str | None


class LoginOut(BaseModel):
    token: str
    csrf_token: str
    user: StaffOut


class DispatchIn(Body):
    unit_id: str = Field(min_length=1, max_length=64)


class IncidentStatusIn(Body):
    status: IncidentStatus
    reason: str = Field(default="", max_length=500)


class PriorityIn(Body):
    priority: int = Field(ge=0, le=4)
    reason: str = Field(min_length=1, max_length=500)


class NoteIn(Body):
    text: str = Field(min_length=1, max_length=500)


class UnitStatusIn(Body):
    status: UnitStatus


class PositionIn(Body):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class LocationOut(BaseModel):
    lat: float
    lon: float
    radius_m: float
    method: str
    located_at: datetime
    # The 95 % region's area: the consoles show the radius of the circle of equal area, grown to now.
    area_m2: float | None = None
    # m/s the figure grows after located_at: walking pace, or a car's bound (docs/location.md).
    growth_mps: float | None = None


class PlaceOut(BaseModel):
    """Where the estimate is in words (street, 동, nearest landmark), offline from bundled data."""

    ko: str
    en: str


class RelocationOut(BaseModel):
    """The latest carrier re-location (HELD) of an incident."""

    incident_id: str
    carrier_id: str
    requested_at: datetime
    outcome: str = Field(description="located, failed (server down/slow/error) or refused")
    fixes: int
    detail: str


class LocationServerIn(Body):
    url: str = Field(min_length=8, max_length=500, pattern=r"^https?://")
    username: str | None = Field(default=None, max_length=200)
    password: str | None = Field(default=None, max_length=200)


class IncidentOut(BaseModel):
    id: str
    channel: str
    status: IncidentStatus
    priority: int
    received_at: datetime
    updated_at: datetime
    subscriber_id: str | None
    subscriber_name: str | None
    caller_number: str | None
    unknown_caller: bool
    location: LocationOut | None
    duress: bool
    drill: bool
    sos_count: int
    place: PlaceOut | None = None
    # The person's cancelled or closed incident this SOS came after.
    previous_incident_id: str | None = None
    # Units the dispatch policy still asks for (0: none missing); no location yet: none can go.
    waiting_for_units: int = 0
    waiting_since: datetime | None = None
    no_location: bool = False


class UnitOut(BaseModel):
    id: str
    call_sign: str
    station_id: str
    status: UnitStatus
    status_at: datetime
    lat: float | None
    lon: float | None


class AssignmentOut(BaseModel):
    id: str
    unit_id: str
    call_sign: str
    state: str
    ordered_at: datetime
    ordered_by: str
    acknowledged_at: datetime | None
    arrived_at: datetime | None
    cleared_at: datetime | None


class CandidateOut(BaseModel):
    unit_id: str
    call_sign: str
    eta_s: float | None
    distance_m: float | None
    reason: str


class DeviceHealthOut(BaseModel):
    """A U-안심 terminal the person wears, as its last message left it."""

    terminal_id: str
    battery_pct: int | None
    low_battery: bool
    last_seen_at: datetime | None
    lost: bool = Field(description="silent past its reporting interval and grace")
    signal_dbm: int | None
    reporting_interval_s: int


class PersonOut(BaseModel):
    name: str
    birth_year: int
    school: str
    notes: str
    photo_url: str
    devices: list[DeviceHealthOut] = Field(default_factory=list)


class GuardianOut(BaseModel):
    name: str
    phone: str
    relation: str


class TimelineEntryOut(BaseModel):
    id: int
    kind: str
    at: datetime
    actor: str
    data: dict[str, Any]


class IncidentDetailOut(BaseModel):
    incident: IncidentOut
    person: PersonOut | None
    guardians: list[GuardianOut]
    timeline: list[TimelineEntryOut]
    fixes: list[LocationOut]
    assignments: list[AssignmentOut]
    candidates: list[CandidateOut]
    relocation: RelocationOut | None = None
