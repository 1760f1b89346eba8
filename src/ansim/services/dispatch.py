"""Dispatch commands: order a unit to an incident, follow the unit's status, rank candidates."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ansim.domain.errors import Conflict, NotFound
from ansim.domain.incidents import TRANSITIONS, Incident, IncidentEvent, IncidentStatus
from ansim.domain.units import (
    CLOSED_ASSIGNMENT_STATES,
    Assignment,
    AssignmentState,
    Unit,
    UnitStatus,
)
from ansim.services import incidents as incident_service
from ansim.services.ranking import RankedUnit, UnitRanker
from ansim.store import deadlines, outbox
from ansim.store.tables import assignments, unit_status_changes, units

# The durable deadline a unit must acknowledge its order by (subject: the assignment id).
ACK_DEADLINE = "assignment.ack"

# Incident statuses from which ordering its first unit moves the incident to "dispatched"; more
# units (code 0) change no status, and a confirmed danger stays confirmed.
_BECOMES_DISPATCHED = {IncidentStatus.RECEIVED, IncidentStatus.VERIFYING}


class UnitUnavailable(Conflict):
    """The unit is no longer available (a concurrent order may have taken it)."""


def get_unit(session: Session, *, unit_id: str, for_update: bool = False) -> Unit:
    """Gets a unit by id or raises NotFound."""
    # Locking re-reads the row: the copy the ranking loaded may predate a concurrent order.
    unit = session.get(Unit, unit_id, with_for_update=for_update, populate_existing=for_update)
    if unit is None:
        raise NotFound(f"no unit {unit_id}")
    return unit


def list_units(session: Session) -> list[Unit]:
    return list(session.execute(sa.select(Unit).order_by(units.c.call_sign)).scalars())


def open_assignments(
    session: Session, *, incident_id: str | None = None, unit_id: str | None = None
) -> list[Assignment]:
    query = sa.select(Assignment).where(
        assignments.c.state.not_in([state.value for state in CLOSED_ASSIGNMENT_STATES])
    )
    if incident_id is not None:
        query = query.where(assignments.c.incident_id == incident_id)
    if unit_id is not None:
        query = query.where(assignments.c.unit_id == unit_id)
    return list(session.execute(query.order_by(assignments.c.ordered_at)).scalars())


def incident_assignments(session: Session, *, incident_id: str) -> list[Assignment]:
    query = sa.select(Assignment).where(assignments.c.incident_id == incident_id)
    return list(session.execute(query.order_by(assignments.c.ordered_at)).scalars())


_ENDED_WITHOUT_HELP = frozenset(
    {AssignmentState.DECLINED, AssignmentState.TIMED_OUT, AssignmentState.PREEMPTED}
)


def rank_units(
    session: Session,
    *,
    incident: Incident,
    ranker: UnitRanker,
    at: datetime | None = None,
    rest_s: float = 0.0,
) -> list[RankedUnit]:
    """Available units ordered by how soon they can reach the incident; rested units left out.

    A unit whose order for this incident timed out, was declined or pre-empted is not offered again:
    the board would otherwise recommend the crew that just did not answer."""
    if incident.lat is None or incident.lon is None:
        return []
    resting = rested_units(session, at=at, rest_s=rest_s) if at is not None else set()
    failed = {
        a.unit_id
        for a in incident_assignments(session, incident_id=incident.id)
        if a.state in _ENDED_WITHOUT_HELP
    }
    available = [
        u
        for u in list_units(session)
        if u.status == UnitStatus.AVAILABLE and u.id not in resting and u.id not in failed
    ]
    return ranker.rank(lat=incident.lat, lon=incident.lon, units=available)


def rested_units(session: Session, *, at: datetime, rest_s: float) -> set[str]:
    """Units that let an order time out within the last `rest_s` seconds: not ordered again yet.

    A crew that did not answer may be away from its terminal; ordering it to the next SOS two
    seconds later would only lose another 30 s there.
    """
    if rest_s <= 0:
        return set()
    query = sa.select(assignments.c.unit_id).where(
        assignments.c.state == AssignmentState.TIMED_OUT.value,
        assignments.c.cleared_at > at - timedelta(seconds=rest_s),
    )
    return set(session.execute(query).scalars())


def order_unit(
    session: Session,
    *,
    incident_id: str,
    unit_id: str,
    actor: str,
    at: datetime,
    eta_s: float | None = None,
    ack_timeout_s: float | None = None,
    skip_locked: bool = False,
) -> Assignment:
    """Orders `unit_id` to the incident; with `ack_timeout_s` the order moves on unless acknowledged.

    `skip_locked`: a unit another transaction holds locked right now (most likely being ordered
    to another SOS in a surge) counts as unavailable instead of being waited for.
    """
    incident = incident_service.get(session, incident_id=incident_id, for_update=True)
    if not incident.is_active:
        raise Conflict(f"incident is {incident.status}; no unit can be ordered to it")
    if skip_locked and _locked_elsewhere(session, unit_id):
        raise UnitUnavailable(f"unit {unit_id} is being changed by another transaction")
    unit = get_unit(session, unit_id=unit_id, for_update=True)
    if unit.status != UnitStatus.AVAILABLE:
        raise UnitUnavailable(f"unit {unit.call_sign} is {unit.status}, not available")
    first_order = not open_assignments(session, incident_id=incident.id)
    previous = unit.move_to(UnitStatus.ORDERED, at=at)
    assignment = Assignment(
        id=str(uuid.uuid4()),
        incident_id=incident.id,
        unit_id=unit.id,
        state=AssignmentState.ORDERED,
        ordered_at=at,
        ordered_by=actor,
        eta_s=eta_s,
        ack_due_at=at + timedelta(seconds=ack_timeout_s) if ack_timeout_s else None,
    )
    session.add(assignment)
    if assignment.ack_due_at is not None:
        deadlines.schedule(
            session,
            kind=ACK_DEADLINE,
            subject_id=assignment.id,
            due_at=assignment.ack_due_at,
            at=at,
            data={"incident_id": incident.id, "unit_id": unit.id},
        )
    _record_unit_status(session, unit, previous, incident.id, at, actor)
    outbox.record(
        session,
        _timeline(incident.id, "unit_ordered", at, actor, unit=unit.call_sign, eta_s=eta_s),
        "unit.ordered",
        {
            "incident_id": incident.id,
            "unit_id": unit.id,
            "assignment_id": assignment.id,
            "call_sign": unit.call_sign,
            "ordered_by": actor,
            "eta_s": eta_s,
            "ack_due_at": assignment.ack_due_at,
        },
    )
    if first_order and incident.status in _BECOMES_DISPATCHED:
        incident_service.change_status(
            session,
            incident_id=incident.id,
            status=IncidentStatus.DISPATCHED,
            actor=actor,
            reason=f"{unit.call_sign} ordered",
            at=at,
        )
    session.flush()
    return assignment


def _locked_elsewhere(session: Session, unit_id: str) -> bool:
    """Locks the unit's row if it is available and free; True (without waiting) otherwise.

    Only an available unit's row is locked, so probing taken units leaves no locks behind that
    could close a cycle with another transaction.
    """
    query = (
        sa.select(units.c.id)
        .where(units.c.id == unit_id, units.c.status == UnitStatus.AVAILABLE)
        .with_for_update(skip_locked=True)
    )
    return session.execute(query).first() is None


def order_best_unit(
    session: Session,
    *,
    incident: Incident,
    ranker: UnitRanker,
    actor: str,
    at: datetime,
    ack_timeout_s: float | None = None,
) -> Assignment | None:
    """Dispatch first, verify after: orders the unit that can be there soonest, if any can.

    The ranking reads without locks (it is the slow part); a ranked unit that a concurrent order
    took meanwhile is found under its row lock, and the next one is ordered: never a failed SOS.
    """
    ranked = rank_units(session, incident=incident, ranker=ranker)
    reachable = [c for c in ranked if c.eta_s is not None]
    # Units another transaction is changing this instant are skipped, never waited for: no convoy
    # behind the nearest unit in a surge, and no lock cycle between two SOS.
    for candidate in reachable:
        try:
            return order_unit(
                session,
                incident_id=incident.id,
                unit_id=candidate.unit.id,
                actor=actor,
                at=at,
                eta_s=candidate.eta_s,
                ack_timeout_s=ack_timeout_s,
                skip_locked=True,
            )
        except UnitUnavailable:
            continue  # order_unit checks before it changes anything: nothing to undo
    return None


def acknowledge(session: Session, *, assignment_id: str, actor: str, at: datetime) -> Assignment:
    """The unit has seen its order: the acknowledgement deadline stops."""
    assignment = get_assignment(session, assignment_id=assignment_id, for_update=True)
    if assignment.state != AssignmentState.ORDERED:
        if assignment.is_open:
            return assignment  # acknowledged already (en route, on scene): a repeat is harmless
        raise Conflict(f"the order is {assignment.state}; it can no longer be acknowledged")
    assignment.state = AssignmentState.ACKNOWLEDGED
    assignment.acknowledged_at = at
    deadlines.cancel(session, kind=ACK_DEADLINE, subject_id=assignment.id, at=at)
    unit = get_unit(session, unit_id=assignment.unit_id)
    _record_assignment(session, assignment, unit, actor, at)
    session.flush()
    return assignment


def end_assignment(
    session: Session,
    *,
    assignment: Assignment,
    state: AssignmentState,
    reason: str,
    actor: str,
    at: datetime,
) -> Unit:
    """Closes an open order (declined, timed out, pre-empted) and frees the unit; returns the unit."""
    if not assignment.is_open:
        raise Conflict(f"the order is already {assignment.state}")
    assignment.state, assignment.cleared_at, assignment.end_reason = state, at, reason
    deadlines.cancel(session, kind=ACK_DEADLINE, subject_id=assignment.id, at=at)
    unit = get_unit(session, unit_id=assignment.unit_id, for_update=True)
    previous = unit.move_to(UnitStatus.AVAILABLE, at=at)
    if previous != UnitStatus.AVAILABLE:
        _record_unit_status(session, unit, previous, assignment.incident_id, at, actor)
    _record_assignment(session, assignment, unit, actor, at)
    session.flush()
    return unit


def get_assignment(session: Session, *, assignment_id: str, for_update: bool = False) -> Assignment:
    """Gets an assignment by id or raises NotFound."""
    assignment = session.get(
        Assignment, assignment_id, with_for_update=for_update, populate_existing=for_update
    )
    if assignment is None:
        raise NotFound(f"no assignment {assignment_id}")
    return assignment


def unit_history(session: Session, *, unit_id: str, limit: int = 100) -> list[dict[str, Any]]:
    """The unit's status changes with their times, newest first."""
    get_unit(session, unit_id=unit_id)
    rows = session.execute(
        sa.select(unit_status_changes)
        .where(unit_status_changes.c.unit_id == unit_id)
        .order_by(unit_status_changes.c.id.desc())
        .limit(limit)
    ).mappings()
    return [dict(row) for row in rows]


def change_unit_status(
    session: Session, *, unit_id: str, status: UnitStatus, actor: str, at: datetime
) -> Unit:
    """Moves a unit through its statuses and keeps its open assignment and incident in step."""
    unit = get_unit(session, unit_id=unit_id, for_update=True)
    current = open_assignments(session, unit_id=unit.id)
    assignment = current[0] if current else None
    previous = unit.move_to(status, at=at)
    if previous == status:
        return unit
    incident_id = assignment.incident_id if assignment else None
    _record_unit_status(session, unit, previous, incident_id, at, actor)
    if assignment is not None:
        _advance_assignment(session, assignment, unit, status, actor, at)
    session.flush()
    return unit


def _advance_assignment(
    session: Session,
    assignment: Assignment,
    unit: Unit,
    status: UnitStatus,
    actor: str,
    at: datetime,
) -> None:
    if status in {UnitStatus.EN_ROUTE, UnitStatus.ON_SCENE}:
        deadlines.cancel(session, kind=ACK_DEADLINE, subject_id=assignment.id, at=at)
    if status == UnitStatus.EN_ROUTE:
        assignment.state = AssignmentState.EN_ROUTE
        assignment.acknowledged_at = assignment.acknowledged_at or at
    elif status == UnitStatus.ON_SCENE:
        assignment.state = AssignmentState.ON_SCENE
        assignment.acknowledged_at = assignment.acknowledged_at or at
        assignment.arrived_at = at
        incident = incident_service.get(
            session, incident_id=assignment.incident_id, for_update=True
        )
        if IncidentStatus.ON_SCENE in TRANSITIONS[incident.status]:
            incident_service.change_status(
                session,
                incident_id=incident.id,
                status=IncidentStatus.ON_SCENE,
                actor=actor,
                reason=f"{unit.call_sign} on scene",
                at=at,
            )
    elif status in {UnitStatus.AVAILABLE, UnitStatus.BUSY, UnitStatus.OFF_DUTY}:
        if assignment.acknowledged_at:
            assignment.state = AssignmentState.CLEARED
        else:
            assignment.state, assignment.end_reason = (
                AssignmentState.DECLINED,
                f"declined by {actor}",
            )
        assignment.cleared_at = at
        deadlines.cancel(session, kind=ACK_DEADLINE, subject_id=assignment.id, at=at)
    _record_assignment(session, assignment, unit, actor, at)


def _record_assignment(
    session: Session, assignment: Assignment, unit: Unit, actor: str, at: datetime
) -> None:
    outbox.record(
        session,
        _timeline(
            assignment.incident_id,
            "assignment_changed",
            at,
            actor,
            unit=unit.call_sign,
            state=assignment.state.value,
            reason=assignment.end_reason,
        ),
        "assignment.changed",
        {
            "incident_id": assignment.incident_id,
            "unit_id": unit.id,
            "assignment_id": assignment.id,
            "state": assignment.state.value,
            "reason": assignment.end_reason,
        },
    )


def move_unit(session: Session, *, unit_id: str, lat: float, lon: float, at: datetime) -> Unit:
    """Records a unit's position report (AVL)."""
    unit = get_unit(session, unit_id=unit_id, for_update=True)
    unit.lat, unit.lon, unit.position_at = lat, lon, at
    outbox.emit(
        session,
        "unit.moved",
        {"unit_id": unit.id, "lat": lat, "lon": lon, "at": at},
        at=at,
        unit_id=unit.id,
    )
    return unit


def _record_unit_status(
    session: Session,
    unit: Unit,
    previous: UnitStatus,
    incident_id: str | None,
    at: datetime,
    actor: str,
) -> None:
    session.execute(
        unit_status_changes.insert().values(
            unit_id=unit.id,
            previous=previous,
            status=unit.status,
            at=at,
            incident_id=incident_id,
            actor=actor,
        )
    )
    outbox.emit(
        session,
        "unit.status_changed",
        {
            "unit_id": unit.id,
            "call_sign": unit.call_sign,
            "previous": previous.value,
            "status": unit.status.value,
            "incident_id": incident_id,
        },
        at=at,
        incident_id=incident_id,
        unit_id=unit.id,
    )


def _timeline(
    incident_id: str, kind: str, at: datetime, actor: str, **data: object
) -> IncidentEvent:
    return IncidentEvent(incident_id=incident_id, kind=kind, at=at, actor=actor, data=dict(data))
