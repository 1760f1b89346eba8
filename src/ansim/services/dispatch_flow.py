"""The dispatch policy in motion: order per rule, move an unacknowledged order on, pre-empt, re-queue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from ansim.domain.dispatch_policy import DISPATCH_RETRY_DEADLINE, DispatchPolicy, can_preempt
from ansim.domain.errors import Conflict, InvalidInput
from ansim.domain.incidents import Incident, IncidentEvent, PriorityCode
from ansim.domain.units import Assignment, AssignmentState, Unit, UnitStatus
from ansim.services import dispatch
from ansim.services import incidents as incident_service
from ansim.services.platform import Platform, transaction
from ansim.services.ranking import RankedUnit, UnitRanker
from ansim.store import deadlines, outbox
from ansim.store.deadlines import Deadline

SCHEDULER = "ack-timer"
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
    """Orders the best units by ETA until the incident has as many as its rule asks (code 0: more).

    Only an open incident is ordered to by rule: after a cancel or false alarm only a person orders.
    Units that already let this incident down, and units resting after a timeout, are skipped.
    """
    rule = policy.rule_for(incident.channel, incident.priority)
    if not rule.auto_dispatch or not incident.is_open:
        return []
    missing = rule.units - len(dispatch.open_assignments(session, incident_id=incident.id))
    ordered: list[Assignment] = []
    if missing <= 0:
        return ordered
    for candidate in _candidates(session, incident, ranker, policy, at):
        # A unit another transaction is changing this instant is skipped, never waited for: no
        # convoy behind the nearest unit in a surge, no lock cycle between two SOS (store.locks).
        order = _order(session, incident, candidate, rule.ack_timeout_s, actor, at)
        if order is not None:
            ordered.append(order)
            if len(ordered) == missing:
                break
    return ordered


def top_up(
    session: Session, *, platform: Platform, incident: Incident, actor: str, at: datetime
) -> list[Assignment]:
    """Dispatch per policy, then mark what is still missing and keep a durable retry for it.

    Every path that can leave an open incident short of units ends here (SOS, escalation, ack
    timeout, decline, pre-emption, retry), so "no unit free" is always visible on the board
    (`waiting_for_units`) and re-ranked every `policy.retry_s` until ordered, cancelled or closed.
    """
    if not platform.auto_dispatch:
        return []
    ordered = dispatch_per_policy(
        session,
        incident=incident,
        ranker=platform.ranker,
        policy=platform.policy,
        actor=actor,
        at=at,
    )
    refresh_waiting(session, platform=platform, incident=incident, at=at)
    return ordered


def refresh_waiting(
    session: Session, *, platform: Platform, incident: Incident, at: datetime
) -> None:
    """Recounts the units the rule still asks for (after any order, automatic or by hand)."""
    if not platform.auto_dispatch:
        return
    rule = platform.policy.rule_for(incident.channel, incident.priority)
    missing = 0
    if incident.is_open and rule.auto_dispatch:
        missing = max(
            0, rule.units - len(dispatch.open_assignments(session, incident_id=incident.id))
        )
    mark_waiting(
        session, incident=incident, missing=missing, retry_s=platform.policy.retry_s, at=at
    )


def mark_waiting(
    session: Session, *, incident: Incident, missing: int, retry_s: float, at: datetime
) -> None:
    """Records how many units the incident still waits for; a retry deadline exists exactly then."""
    if missing > 0:
        deadlines.move(
            session,
            kind=DISPATCH_RETRY_DEADLINE,
            subject_id=incident.id,
            due_at=at + timedelta(seconds=retry_s),
            at=at,
        )
    else:
        deadlines.cancel(session, kind=DISPATCH_RETRY_DEADLINE, subject_id=incident.id, at=at)
    if missing == incident.waiting_for_units:
        return
    incident.waiting_for_units = missing
    incident.waiting_since = (incident.waiting_since or at) if missing else None
    outbox.emit(
        session,
        "incident.waiting_changed",
        {
            "incident_id": incident.id,
            "waiting_for_units": missing,
            "waiting_since": incident.waiting_since,
            "no_location": incident.lat is None,
        },
        at=at,
        incident_id=incident.id,
    )


def order_next(
    session: Session,
    *,
    incident: Incident,
    ranker: UnitRanker,
    policy: DispatchPolicy,
    actor: str,
    at: datetime,
) -> Assignment | None:
    """Orders the next unit by ETA that has not let this incident down nor is resting, if one can go."""
    if not incident.is_open:
        return None
    rule = policy.rule_for(incident.channel, incident.priority)
    for candidate in _candidates(session, incident, ranker, policy, at):
        order = _order(session, incident, candidate, rule.ack_timeout_s, actor, at)
        if order is not None:
            return order
    return None


def _candidates(
    session: Session, incident: Incident, ranker: UnitRanker, policy: DispatchPolicy, at: datetime
) -> list[RankedUnit]:
    tried = _units_that_failed(session, incident.id)
    ranked = dispatch.rank_units(
        session, incident=incident, ranker=ranker, at=at, rest_s=policy.unit_rest_s
    )
    return [c for c in ranked if c.eta_s is not None and c.unit.id not in tried]


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


def do_fire_ack_deadline(
    platform: Platform, *, deadline: Deadline, at: datetime, session: Session | None = None
) -> None:
    """The deadline "assignment.ack": no acknowledgement moves the order on (in the claim transaction).

    An order acknowledged, declined or withdrawn (a cancel) in the meantime ends it: it does nothing.
    """
    with transaction(platform, session) as tx:
        assignment = _locked_assignment(tx, deadline.subject_id)
        if assignment.state != AssignmentState.ORDERED:
            return
        waited = (at - assignment.ordered_at).total_seconds()
        move_order_on(
            tx,
            assignment=assignment,
            state=AssignmentState.TIMED_OUT,
            reason=f"not acknowledged within {waited:.0f} s",
            platform=platform,
            actor=SCHEDULER,
            at=at,
        )


def decline(
    session: Session,
    *,
    assignment_id: str,
    platform: Platform,
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
        platform=platform,
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
    platform: Platform,
    actor: str,
    at: datetime,
) -> Assignment | None:
    """Ends `assignment` and orders the next unit by ETA; the board is told either way.

    No unit free: the incident is marked waiting and its retry deadline re-ranks (see `top_up`).
    """
    # The incident before the unit (ansim.store.locks), as every order takes them.
    incident = incident_service.get(session, incident_id=assignment.incident_id, for_update=True)
    unit = dispatch.end_assignment(
        session, assignment=assignment, state=state, reason=reason, actor=actor, at=at
    )
    successors = top_up(session, platform=platform, incident=incident, actor=actor, at=at)
    successor = successors[0] if successors else None
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
    platform: Platform,
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
        (estimate,) = platform.ranker.rank(lat=incident.lat, lon=incident.lon, units=[unit])
        eta = estimate.eta_s
    reason = f"pre-empted for code {int(incident.priority)} incident"
    dispatch.end_assignment(
        session, assignment=job, state=AssignmentState.PREEMPTED, reason=reason, actor=actor, at=at
    )
    rule = platform.policy.rule_for(incident.channel, incident.priority)
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
        platform=platform,
        actor=actor,
        at=at,
    )
    return order


def requeue(
    session: Session,
    *,
    incident: Incident,
    reason: str,
    platform: Platform,
    actor: str,
    at: datetime,
) -> Assignment | None:
    """Puts an incident that lost its unit back in the queue; its rule may order the next unit now."""
    ordered = top_up(session, platform=platform, incident=incident, actor=actor, at=at)
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
