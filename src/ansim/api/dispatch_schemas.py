"""Request and response bodies of the dispatch API (board recommendations, orders, routes, MDT)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from ansim.api.schemas import Body, IncidentOut, PersonOut, UnitOut
from ansim.domain.units import UnitStatus


class DispatchAssignmentOut(BaseModel):
    id: str
    incident_id: str
    unit_id: str
    call_sign: str
    state: str
    ordered_at: datetime
    ordered_by: str
    eta_s: float | None
    ack_due_at: datetime | None
    ack_remaining_s: float | None = Field(
        description="seconds left to acknowledge (negative: overdue); null once acknowledged"
    )
    acknowledged_at: datetime | None
    arrived_at: datetime | None
    cleared_at: datetime | None
    end_reason: str


class RuleOut(BaseModel):
    auto_dispatch: bool
    units: int
    ack_timeout_s: float


class JurisdictionOut(BaseModel):
    station_id: str | None
    station_name: str | None
    district_ko: str | None
    district_en: str | None
    distance_m: float | None
    basis: str


class RecommendedUnitOut(BaseModel):
    unit_id: str
    call_sign: str
    station_id: str
    status: UnitStatus
    eta_s: float | None
    distance_m: float | None = Field(description="straight-line metres to the incident")
    reason: str = Field(description="why there is no ETA (unreachable, off the map, no position)")


class PreemptableUnitOut(RecommendedUnitOut):
    job_incident_id: str
    job_priority: int


class DispatchPlanOut(BaseModel):
    incident_id: str
    priority: int
    status: str
    now: datetime
    ranking: str = Field(description="road (ETA on the road graph) or straight_line")
    rule: RuleOut
    jurisdiction: JurisdictionOut | None
    recommended: list[RecommendedUnitOut]
    preemptable: list[PreemptableUnitOut]
    assignments: list[DispatchAssignmentOut]


class PreemptIn(Body):
    unit_id: str = Field(min_length=1, max_length=64)
    confirm: bool = Field(description="the dispatcher's explicit yes; false answers 422")


class RouteOut(BaseModel):
    incident_id: str
    unit_id: str
    assignment_id: str | None
    seconds: float | None
    metres: float | None
    polyline: list[tuple[float, float]] = Field(
        description="(lat, lon) from the unit to the incident"
    )
    on_roads: bool
    reason: str


class DeclineOut(BaseModel):
    declined: DispatchAssignmentOut
    next: DispatchAssignmentOut | None


class OrderOut(BaseModel):
    """What a unit's terminal shows: the order, the incident, who needs help."""

    assignment: DispatchAssignmentOut
    incident: IncidentOut
    person: PersonOut | None
    unit: UnitOut


class UnitStatusChangeOut(BaseModel):
    previous: UnitStatus
    status: UnitStatus
    at: datetime
    incident_id: str | None
    actor: str
