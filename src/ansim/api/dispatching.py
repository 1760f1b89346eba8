"""Dispatch API: recommendations with ETAs, routes, acknowledgement, decline, pre-emption; the MDT page."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from ansim.api import views
from ansim.api.auth import ConsoleUser, ContextDep, FieldUser, staff_actor
from ansim.api.context import AppContext
from ansim.api.dispatch_schemas import (
    DeclineOut,
    DispatchAssignmentOut,
    DispatchPlanOut,
    JurisdictionOut,
    OrderOut,
    PreemptableUnitOut,
    PreemptIn,
    RecommendedUnitOut,
    RouteOut,
    RuleOut,
    UnitStatusChangeOut,
)
from ansim.api.schemas import PersonOut
from ansim.domain.errors import Conflict, Forbidden
from ansim.domain.staff import Role, StaffUser
from ansim.domain.units import Assignment
from ansim.services import (
    dispatch,
    dispatch_flow,
    incident_commands,
    incidents,
    jurisdiction,
    people,
    unit_commands,
)
from ansim.services.road_ranking import RoadRanker, route_for

router = APIRouter(tags=["dispatch"])
MDT = Path(__file__).resolve().parent.parent / "web" / "static" / "mdt"
RECOMMENDED = 10


def assignment_out(
    session: Session, assignment: Assignment, now: datetime
) -> DispatchAssignmentOut:
    unit = dispatch.get_unit(session, unit_id=assignment.unit_id)
    pending = assignment.ack_due_at is not None and assignment.acknowledged_at is None
    return DispatchAssignmentOut(
        id=assignment.id,
        incident_id=assignment.incident_id,
        unit_id=assignment.unit_id,
        call_sign=unit.call_sign,
        state=assignment.state.value,
        ordered_at=assignment.ordered_at,
        ordered_by=assignment.ordered_by,
        eta_s=assignment.eta_s,
        ack_due_at=assignment.ack_due_at,
        ack_remaining_s=(assignment.ack_due_at - now).total_seconds()
        if pending and assignment.is_open and assignment.ack_due_at
        else None,
        acknowledged_at=assignment.acknowledged_at,
        arrived_at=assignment.arrived_at,
        cleared_at=assignment.cleared_at,
        end_reason=assignment.end_reason,
    )


def _check_officer(
    session: Session, user: StaffUser, *, incident_id: str | None = None, unit_id: str | None = None
) -> None:
    if user.role != Role.OFFICER:
        return
    if unit_id is not None and unit_id != user.unit_id:
        raise Forbidden("an officer sees only their own unit's orders")
    if incident_id is not None:
        assigned = dispatch.incident_assignments(session, incident_id=incident_id)
        if not any(a.unit_id == user.unit_id for a in assigned):
            raise Forbidden("officers see only incidents their unit is assigned to")


def _plan(context: AppContext, incident_id: str) -> DispatchPlanOut:
    now = context.now()
    with context.uow.read() as session:
        incident = incidents.get(session, incident_id=incident_id)
        rule = context.dispatch_policy.rule_for(incident.channel, incident.priority)
        ranked = (
            dispatch.rank_units(
                session,
                incident=incident,
                ranker=context.ranker,
                at=now,
                rest_s=context.dispatch_policy.unit_rest_s,
            )
            if incident.is_active
            else []
        )
        seizable = (
            dispatch_flow.preemption_candidates(session, incident=incident, ranker=context.ranker)
            if incident.is_active
            else []
        )
        area = (
            jurisdiction.responsible_station(session, lat=incident.lat, lon=incident.lon)
            if incident.lat is not None and incident.lon is not None
            else None
        )
        return DispatchPlanOut(
            incident_id=incident.id,
            priority=int(incident.priority),
            status=incident.status.value,
            now=now,
            ranking="road" if isinstance(context.ranker, RoadRanker) else "straight_line",
            rule=RuleOut(
                auto_dispatch=rule.auto_dispatch, units=rule.units, ack_timeout_s=rule.ack_timeout_s
            ),
            jurisdiction=JurisdictionOut(
                station_id=area.station.id if area.station else None,
                station_name=area.station.name if area.station else None,
                district_ko=area.district_ko,
                district_en=area.district_en,
                distance_m=area.distance_m,
                basis=area.basis,
            )
            if area
            else None,
            recommended=[
                RecommendedUnitOut(
                    unit_id=r.unit.id,
                    call_sign=r.unit.call_sign,
                    station_id=r.unit.station_id,
                    status=r.unit.status,
                    eta_s=r.eta_s,
                    distance_m=r.distance_m,
                    reason=r.reason,
                )
                for r in ranked[:RECOMMENDED]
            ],
            preemptable=[
                PreemptableUnitOut(
                    unit_id=p.ranked.unit.id,
                    call_sign=p.ranked.unit.call_sign,
                    station_id=p.ranked.unit.station_id,
                    status=p.ranked.unit.status,
                    eta_s=p.ranked.eta_s,
                    distance_m=p.ranked.distance_m,
                    reason=p.ranked.reason,
                    job_incident_id=p.job.incident_id,
                    job_priority=int(p.job_priority),
                )
                for p in seizable[:RECOMMENDED]
            ],
            assignments=[
                assignment_out(session, a, now)
                for a in dispatch.incident_assignments(session, incident_id=incident.id)
            ],
        )


@router.get(
    "/api/v1/incidents/{incident_id}/dispatch",
    operation_id="get_dispatch_plan",
    response_model=DispatchPlanOut,
)
async def get_dispatch_plan(
    incident_id: str, context: ContextDep, _user: ConsoleUser
) -> DispatchPlanOut:
    """Recommended units by ETA, pre-emptable units, orders with their ack countdown, jurisdiction."""
    return await run_in_threadpool(_plan, context, incident_id)


def _preempt(
    context: AppContext, request: Request, user: StaffUser, incident_id: str, body: PreemptIn
) -> DispatchPlanOut:
    incident_commands.do_preempt_unit(
        context.platform,
        incident_id=incident_id,
        unit_id=body.unit_id,
        confirm=body.confirm,
        actor=staff_actor(request, user),
    )
    return _plan(context, incident_id)


@router.post(
    "/api/v1/incidents/{incident_id}/preempt",
    operation_id="preempt_unit",
    response_model=DispatchPlanOut,
)
async def preempt_unit(
    incident_id: str, body: PreemptIn, request: Request, context: ContextDep, user: ConsoleUser
) -> DispatchPlanOut:
    """Takes a unit off a code 2-4 job for this code 0/1 incident (confirmed); the job is re-queued."""
    return await run_in_threadpool(_preempt, context, request, user, incident_id, body)


def _route(
    context: AppContext,
    user: StaffUser,
    incident_id: str,
    unit_id: str | None,
    assignment_id: str | None,
) -> RouteOut:
    with context.uow.read() as session:
        _check_officer(session, user, incident_id=incident_id)
        incident = incidents.get(session, incident_id=incident_id)
        if unit_id is None:
            current = dispatch.open_assignments(session, incident_id=incident.id)
            if not current:
                raise Conflict("no unit is on this incident; name one with ?unit_id=")
            unit_id, assignment_id = current[0].unit_id, current[0].id
        unit = dispatch.get_unit(session, unit_id=unit_id)
    if incident.lat is None or incident.lon is None:
        raise Conflict("the incident has no location yet")
    if unit.lat is None or unit.lon is None:
        raise Conflict(f"unit {unit.call_sign} has reported no position")
    line = route_for(
        context.ranker, from_lat=unit.lat, from_lon=unit.lon, lat=incident.lat, lon=incident.lon
    )
    return RouteOut(
        incident_id=incident.id,
        unit_id=unit.id,
        assignment_id=assignment_id,
        seconds=line.seconds,
        metres=line.metres,
        polyline=list(line.polyline),
        on_roads=line.on_roads,
        reason=line.reason,
    )


@router.get(
    "/api/v1/incidents/{incident_id}/route",
    operation_id="get_incident_route",
    response_model=RouteOut,
)
async def get_incident_route(
    incident_id: str, context: ContextDep, user: FieldUser, unit_id: str | None = None
) -> RouteOut:
    """The drive from a unit (default: the first on the incident) to the incident, as a polyline."""
    return await run_in_threadpool(_route, context, user, incident_id, unit_id, None)


def _assignment_route(context: AppContext, user: StaffUser, assignment_id: str) -> RouteOut:
    with context.uow.read() as session:
        assignment = dispatch.get_assignment(session, assignment_id=assignment_id)
    return _route(context, user, assignment.incident_id, assignment.unit_id, assignment.id)


@router.get(
    "/api/v1/assignments/{assignment_id}/route",
    operation_id="get_assignment_route",
    response_model=RouteOut,
)
async def get_assignment_route(
    assignment_id: str, context: ContextDep, user: FieldUser
) -> RouteOut:
    """The route of an order: from the unit's last position to the incident."""
    return await run_in_threadpool(_assignment_route, context, user, assignment_id)


def _check_order_of(context: AppContext, user: StaffUser, assignment_id: str) -> None:
    with context.uow.read() as session:
        found = dispatch.get_assignment(session, assignment_id=assignment_id)
        _check_officer(session, user, unit_id=found.unit_id)


def _acknowledge(
    context: AppContext, request: Request, user: StaffUser, assignment_id: str
) -> DispatchAssignmentOut:
    _check_order_of(context, user, assignment_id)
    assignment = unit_commands.do_acknowledge_order(
        context.platform, assignment_id=assignment_id, actor=staff_actor(request, user)
    )
    with context.uow.read() as session:
        return assignment_out(session, assignment, context.now())


@router.post(
    "/api/v1/assignments/{assignment_id}/acknowledge",
    operation_id="acknowledge_order",
    response_model=DispatchAssignmentOut,
)
async def acknowledge_order(
    assignment_id: str, request: Request, context: ContextDep, user: FieldUser
) -> DispatchAssignmentOut:
    """The unit has the order: its acknowledgement deadline stops."""
    return await run_in_threadpool(_acknowledge, context, request, user, assignment_id)


def _decline(
    context: AppContext, request: Request, user: StaffUser, assignment_id: str
) -> DeclineOut:
    _check_order_of(context, user, assignment_id)
    outcome = unit_commands.do_decline_order(
        context.platform, assignment_id=assignment_id, actor=staff_actor(request, user)
    )
    now = context.now()
    with context.uow.read() as session:
        return DeclineOut(
            declined=assignment_out(session, outcome.declined, now),
            next=assignment_out(session, outcome.successor, now) if outcome.successor else None,
        )


@router.post(
    "/api/v1/assignments/{assignment_id}/decline",
    operation_id="decline_order",
    response_model=DeclineOut,
)
async def decline_order(
    assignment_id: str, request: Request, context: ContextDep, user: FieldUser
) -> DeclineOut:
    """The unit cannot go: the order moves to the next unit by ETA at once."""
    return await run_in_threadpool(_decline, context, request, user, assignment_id)


def _orders(context: AppContext, user: StaffUser, unit_id: str) -> list[OrderOut]:
    now = context.now()
    with context.uow.read() as session:
        _check_officer(session, user, unit_id=unit_id)
        unit = dispatch.get_unit(session, unit_id=unit_id)
        found = []
        for assignment in dispatch.open_assignments(session, unit_id=unit_id):
            incident = incidents.get(session, incident_id=assignment.incident_id)
            subscriber = (
                people.get_subscriber(session, subscriber_id=incident.subscriber_id)
                if incident.subscriber_id
                else None
            )
            found.append(
                OrderOut(
                    assignment=assignment_out(session, assignment, now),
                    incident=views.incident_out(incident, subscriber),
                    person=PersonOut(
                        name=subscriber.name,
                        birth_year=subscriber.birth_year,
                        school=subscriber.school,
                        notes=subscriber.notes,
                        photo_url=subscriber.photo_url,
                    )
                    if subscriber
                    else None,
                    unit=views.unit_out(unit),
                )
            )
        return found


@router.get(
    "/api/v1/units/{unit_id}/orders", operation_id="list_unit_orders", response_model=list[OrderOut]
)
async def list_unit_orders(unit_id: str, context: ContextDep, user: FieldUser) -> list[OrderOut]:
    """The unit's open orders with the incident and the person in danger (the MDT's main view)."""
    return await run_in_threadpool(_orders, context, user, unit_id)


def _history(context: AppContext, user: StaffUser, unit_id: str) -> list[UnitStatusChangeOut]:
    with context.uow.read() as session:
        _check_officer(session, user, unit_id=unit_id)
        return [
            UnitStatusChangeOut(**{k: row[k] for k in UnitStatusChangeOut.model_fields})
            for row in dispatch.unit_history(session, unit_id=unit_id)
        ]


@router.get(
    "/api/v1/units/{unit_id}/history",
    operation_id="list_unit_status_history",
    response_model=list[UnitStatusChangeOut],
)
async def list_unit_status_history(
    unit_id: str, context: ContextDep, user: FieldUser
) -> list[UnitStatusChangeOut]:
    """The unit's statuses with their times, newest first."""
    return await run_in_threadpool(_history, context, user, unit_id)


@router.get("/mdt", include_in_schema=False)
async def mdt_page() -> FileResponse:
    return FileResponse(MDT / "index.html")
