"""The dispatch policy in motion: order per rule, move an unacknowledged order on, pre-empt, re-queue."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from ansim.domain.dispatch_policy import DispatchPolicy, can_preempt
from ansim.domain.errors import Conflict, InvalidInput
from ansim.domain.incidents import Incident, IncidentEvent, IncidentStatus, PriorityCode
from ansim.domain.units import Assignment, AssignmentState, Unit, UnitStatus
from ansim.services import dispatch
from ansim.services import incidents as incident_service
from ansim.services.ranking import RankedUnit, UnitRanker
from ansim.store import outbox
from ansim.store.deadlines import Deadline

SCHEDULER = "ack-timer"
# A cancelled SOS or a false alarm keeps the units it has but gets no more automatically.
_STOOD_DOWN = {IncidentStatus.CANCELLED, IncidentStatus.FALSE_ALARM}
_BUSY_WITH_JOB = {UnitStatus.ORDERED, UnitStatus.EN_ROUTE, UnitStatus.ON_SCENE, UnitStatus.BUSY}


def dispatch_per_policy(
    session: Session,
    *,
    incident: Incident,
    ranker: UnitRanker,
    policy: DispatchPolicy,
    actor: str,
    at: datetime,
) -> list[Assignment]:
    """Orders the best units by ETA until the incident has as many as its rule asks (code 0: more)."""
    rule = policy.rule_for(incident.channel, incident.priority)
    if not rule.auto_dispatch or not incident.is_active or incident.status in _STOOD_DOWN:
        return []
    missing = rule.units - len(dispatch.open_assignments(session, incident_id=incident.id))
    ordered: list[Assignment] = []
    if missing <= 0:
        return ordered
    tried = _units_that_failed(session, incident.id)
    ranked = dispatch.rank_units(session, incident=incident, ranker=ranker)
    reachable = [c for c in ranked if c.eta_s is not None and c.unit.id not in tried]
    # Units another transaction is changing this instant are skipped, never waited for: no convoy
    # behind the nearest unit in a surge, no lock cycle between two SOS (ansim.store.locks).
    for candidate in reachable:
        order = _order(session, incident, candidate, rule.ack_timeout_s, actor, at)
        if order is not None:
            ordered.append(order)
            if len(ordered) == missing:
                break
    return ordered


def order_next(
    session: Session,
    *,
    incident: Incident,
    ranker: UnitRanker,
    ack_timeout_s: float,
    actor: str,
    at: datetime,
) -> Assignment | None:
    """Orders the next unit by ETA that has not already let this incident down, if one can go."""
    if not incident.is_active:
        return None
    tried = _units_that_failed(session, incident.id)
    ranked = dispatch.rank_units(session, incident=incident, ranker=ranker)
    reachable = [c for c in ranked if c.eta_s is not None and c.unit.id not in tried]
    for candidate in reachable:
        order = _order(session, incident, candidate, ack_timeout_s, actor, at)
        if order is not None:
            return order
    return None


def _order(
    session: Session,
    incident: Incident,
    candidate: RankedUnit,
    ack_timeout_s: float,
    actor: str,
    at: datetime,
) -> Assignment | None:
    """Orders a ranked unit; None when it is taken or being changed right now (try the next)."""
    try:
        return dispatch.order_unit(
            session,
            incident_id=incident.id,
            unit_id=candidate.unit.id,
            actor=actor,
            at=at,
            eta_s=candidate.eta_s,
            ack_timeout_s=ack_timeout_s,
            skip_locked=True,
        )
    except dispatch.UnitUnavailable:
        return None


def _units_that_failed(session: Session, incident_id: str) -> set[str]:
    ended = {AssignmentState.DECLINED, AssignmentState.TIMED_OUT, AssignmentState.PREEMPTED}
    return {
        a.unit_id
        for a in dispatch.incident_assignments(session, incident_id=incident_id)
        if a.state in ended
    }


def ack_timeout_handler(
    ranker: UnitRanker, policy: DispatchPolicy
) -> Callable[[Session, Deadline, datetime], None]:
    """The deadline handler for "assignment.ack": no acknowledgement moves the order on."""

    def handle(session: Session, deadline: Deadline, now: datetime) -> None:
        assignment = _locked_assignment(session, deadline.subject_id)
        if assignment.state != AssignmentState.ORDERED:
            return  # acknowledged or ended in the meantime
        waited = (now - assignment.ordered_at).total_seconds()
        reason = f"not acknowledged within {waited:.0f} s"
        move_order_on(
            session,
            assignment=assignment,
            state=AssignmentState.TIMED_OUT,
            reason=reason,
            ranker=ranker,
            policy=policy,
            actor=SCHEDULER,
            at=now,
        )

    return handle


def decline(
    session: Session,
    *,
    assignment_id: str,
    ranker: UnitRanker,
    policy: DispatchPolicy,
    actor: str,
    at: datetime,
) -> Assignment | None:
    """The unit cannot take the order; it moves to the next unit at once. Returns the new order."""
    assignment = _locked_assignment(session, assignment_id)
    if assignment.state != AssignmentState.ORDERED:
        raise Conflict(f"the order is {assignment.state}; only an unacknowledged order is declined")
    return move_order_on(
        session,
        assignment=assignment,
        state=AssignmentState.DECLINED,
        reason=f"declined by {actor}",
        ranker=ranker,
        policy=policy,
        actor=actor,
        at=at,
    )


def _locked_assignment(session: Session, assignment_id: str) -> Assignment:
    """Locks the order's incident, then the order (the lock order of ansim.store.locks)."""
    incident_id = dispatch.get_assignment(session, assignment_id=assignment_id).incident_id
    incident_service.get(session, incident_id=incident_id, for_update=True)
    return dispatch.get_assignment(session, assignment_id=assignment_id, for_update=True)


def move_order_on(
    session: Session,
    *,
    assignment: Assignment,
    state: AssignmentState,
    reason: str,
    ranker: UnitRanker,
    policy: DispatchPolicy,
    actor: str,
    at: datetime,
) -> Assignment | None:
    """Ends `assignment` and orders the next unit by ETA; the board is told either way."""
    # The incident before the unit (ansim.store.locks), as every order takes them.
    incident = incident_service.get(session, incident_id=assignment.incident_id, for_update=True)
    unit = dispatch.end_assignment(
        session, assignment=assignment, state=state, reason=reason, actor=actor, at=at
    )
    rule = policy.rule_for(incident.channel, incident.priority)
    successor = order_next(
        session,
        incident=incident,
        ranker=ranker,
        ack_timeout_s=rule.ack_timeout_s,
        actor=actor,
        at=at,
    )
    next_unit = dispatch.get_unit(session, unit_id=successor.unit_id) if successor else None
    told = reason if successor else f"{reason}; no other unit can go now"
    if state != AssignmentState.TIMED_OUT:
        data = _requeued(incident.id, told, successor, next_unit)
        entry = IncidentEvent(incident.id, "requeued", at, actor, dict(data))
        outbox.record(session, entry, "incident.requeued", data)
        return successor
    timed_out = {
        "incident_id": incident.id,
        "assignment_id": assignment.id,
        "unit_id": unit.id,
        "call_sign": unit.call_sign,
        "next_assignment_id": successor.id if successor else None,
        "next_unit_id": next_unit.id if next_unit else None,
        "next_call_sign": next_unit.call_sign if next_unit else None,
        "reason": told,
    }
    entry = IncidentEvent(incident.id, "ack_timed_out", at, actor, dict(timed_out))
    outbox.record(session, entry, "assignment.ack_timed_out", timed_out)
    return successor


def _requeued(
    incident_id: str, reason: str, successor: Assignment | None, next_unit: Unit | None
) -> dict[str, object]:
    return {
        "incident_id": incident_id,
        "reason": reason,
        "next_assignment_id": successor.id if successor else None,
        "next_call_sign": next_unit.call_sign if next_unit else None,
    }


@dataclass(frozen=True)
class PreemptionCandidate:
    """A unit on a less urgent job that could be taken for this incident."""

    ranked: RankedUnit
    job: Assignment
    job_priority: PriorityCode


def preemption_candidates(
    session: Session, *, incident: Incident, ranker: UnitRanker
) -> list[PreemptionCandidate]:
    """Units busy on code 2-4 jobs, by ETA, when the incident is code 0/1 (empty otherwise)."""
    if incident.lat is None or incident.lon is None:
        return []
    jobs: dict[str, tuple[Assignment, PriorityCode]] = {}
    for unit in dispatch.list_units(session):
        if unit.status not in _BUSY_WITH_JOB:
            continue
        for job in dispatch.open_assignments(session, unit_id=unit.id):
            job_incident = incident_service.get(session, incident_id=job.incident_id)
            if job.incident_id != incident.id and can_preempt(
                incident.priority, job_incident.priority
            ):
                jobs[unit.id] = (job, job_incident.priority)
    if not jobs:
        return []
    units = [dispatch.get_unit(session, unit_id=unit_id) for unit_id in jobs]
    return [
        PreemptionCandidate(r, *jobs[r.unit.id])
        for r in ranker.rank(lat=incident.lat, lon=incident.lon, units=units)
    ]


def preempt(
    session: Session,
    *,
    incident_id: str,
    unit_id: str,
    ranker: UnitRanker,
    policy: DispatchPolicy,
    actor: str,
    at: datetime,
) -> Assignment:
    """Takes a unit off its code 2-4 job for a code 0/1 incident; the job goes back to the queue."""
    incident = incident_service.get(session, incident_id=incident_id, for_update=True)
    unit = dispatch.get_unit(session, unit_id=unit_id, for_update=True)
    jobs = dispatch.open_assignments(session, unit_id=unit.id)
    if not jobs:
        raise Conflict(f"unit {unit.call_sign} is {unit.status} with no job to pre-empt")
    job = jobs[0]
    if job.incident_id == incident.id:
        raise Conflict(f"unit {unit.call_sign} is already on this incident")
    job_incident = incident_service.get(session, incident_id=job.incident_id, for_update=True)
    if not can_preempt(incident.priority, job_incident.priority):
        raise Conflict(
            f"a code {int(incident.priority)} incident cannot take a unit from a code "
            f"{int(job_incident.priority)} job (only code 0/1 over code 2-4)"
        )
    eta = None
    if incident.lat is not None and incident.lon is not None:
        (estimate,) = ranker.rank(lat=incident.lat, lon=incident.lon, units=[unit])
        eta = estimate.eta_s
    reason = f"pre-empted for code {int(incident.priority)} incident"
    dispatch.end_assignment(
        session, assignment=job, state=AssignmentState.PREEMPTED, reason=reason, actor=actor, at=at
    )
    rule = policy.rule_for(incident.channel, incident.priority)
    order = dispatch.order_unit(
        session,
        incident_id=incident.id,
        unit_id=unit.id,
        actor=actor,
        at=at,
        eta_s=eta,
        ack_timeout_s=rule.ack_timeout_s,
    )
    preempted = {
        "unit_id": unit.id,
        "call_sign": unit.call_sign,
        "from_incident_id": job_incident.id,
        "to_incident_id": incident.id,
        "confirmed_by": actor,
    }
    outbox.record(
        session,
        IncidentEvent(job_incident.id, "unit_preempted", at, actor, dict(preempted)),
        "unit.preempted",
        preempted,
    )
    requeue(
        session,
        incident=job_incident,
        reason=f"{unit.call_sign} {reason}",
        ranker=ranker,
        policy=policy,
        actor=actor,
        at=at,
    )
    return order


def requeue(
    session: Session,
    *,
    incident: Incident,
    reason: str,
    ranker: UnitRanker,
    policy: DispatchPolicy,
    actor: str,
    at: datetime,
) -> Assignment | None:
    """Puts an incident that lost its unit back in the queue; its rule may order the next unit now."""
    ordered = dispatch_per_policy(
        session, incident=incident, ranker=ranker, policy=policy, actor=actor, at=at
    )
    successor = ordered[0] if ordered else None
    next_unit = dispatch.get_unit(session, unit_id=successor.unit_id) if successor else None
    data = _requeued(incident.id, reason, successor, next_unit)
    entry = IncidentEvent(incident.id, "requeued", at, actor, dict(data))
    outbox.record(session, entry, "incident.requeued", data)
    return successor


def check_confirmed(confirm: bool) -> None:
    """Pre-emption takes a unit off someone else's job: only with the dispatcher's explicit yes."""
    if not confirm:
        raise InvalidInput("pre-emption needs the dispatcher's confirmation (confirm: true)")
