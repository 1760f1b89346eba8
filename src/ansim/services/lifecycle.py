"""The incident lifecycle's follow-ups: what an SOS, a fix, a cancel, a duress PIN and a retry set off.

docs/incident-lifecycle.md is the table of these rules; each row names the test that proves it.
The rules in short: an open incident (not cancelled, false alarm, resolved or closed) is dispatched
per policy or visibly waits with a durable retry; a real-PIN cancel stops everything that could
escalate or order by itself, and from then on only a person may; a duress PIN is code 0 and, to the
device and by default to the guardians, looks exactly like a real cancel.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from ansim.domain.deliveries import DeliveryStatus, RecipientKind
from ansim.domain.dispatch_policy import DISPATCH_RETRY_DEADLINE
from ansim.domain.incidents import (
    TRANSITIONS,
    EscalationCause,
    Incident,
    IncidentEvent,
    IncidentStatus,
    PriorityCode,
)
from ansim.domain.units import AssignmentState
from ansim.services import (
    alerts,
    deliveries,
    dispatch,
    dispatch_flow,
    incidents,
    people,
    terminal_notices,
    verification,
)
from ansim.services.escalation import escalate_to_code0
from ansim.services.platform import Platform, transaction
from ansim.store import deadlines, outbox
from ansim.store.deadlines import Deadline

AUTO_DISPATCHER = "auto-dispatch"
RETRIER = "dispatch-retry"
DURESS_REASON = "duress PIN entered: the person is being forced to cancel"
CANCEL_TEMPLATE = "sos_cancelled"
_LEFT = {DeliveryStatus.SENT, DeliveryStatus.DELIVERED}
_NOT_LEFT = {DeliveryStatus.QUEUED, DeliveryStatus.SENDING, DeliveryStatus.FAILED}
_TOLD_OF_SOS = {RecipientKind.GUARDIAN, RecipientKind.SCHOOL_GUARD}


def after_new_sos(
    session: Session, *, platform: Platform, incident: Incident, at: datetime
) -> None:
    """A new incident: order per policy (or wait visibly), then alerts and verification."""
    dispatch_flow.top_up(
        session, platform=platform, incident=incident, actor=AUTO_DISPATCHER, at=at
    )
    verification.after_sos(session, incident=incident, config=platform.verification, at=at)


def after_orders(session: Session, *, platform: Platform, incident: Incident, at: datetime) -> None:
    """Units were ordered later than the SOS (a late fix, a freed unit): verify, tell the terminal."""
    if incident.status == IncidentStatus.DISPATCHED:
        verification.start(
            session, incident_id=incident.id, config=platform.verification, actor=RETRIER, at=at
        )
    terminal_notices.queue_help_coming(
        session, incident=incident, config=platform.verification, at=at
    )


def do_retry_dispatch(
    platform: Platform, *, deadline: Deadline, at: datetime, session: Session | None = None
) -> None:
    """The deadline "incident.dispatch_retry": re-rank for an incident still missing units.

    Fires every `policy.retry_s` while units are missing, and at once when a first usable fix
    arrives (services.location pulls it forward). A cancelled or closed incident: nothing.
    """
    with transaction(platform, session) as tx:
        # Fired first, so the next retry this may schedule is a new row, not this one moved.
        deadlines.mark_fired(tx, deadline_id=deadline.id, at=at)
        incident = incidents.get(tx, incident_id=deadline.subject_id, for_update=True)
        if not incident.is_open:
            dispatch_flow.mark_waiting(
                tx, incident=incident, missing=0, retry_s=platform.policy.retry_s, at=at
            )
            return
        ordered = dispatch_flow.top_up(
            tx, platform=platform, incident=incident, actor=RETRIER, at=at
        )
        if ordered:
            after_orders(tx, platform=platform, incident=incident, at=at)


def change_priority_by_dispatcher(
    session: Session,
    *,
    platform: Platform,
    incident_id: str,
    priority: PriorityCode,
    actor: str,
    reason: str,
    at: datetime,
) -> Incident:
    """A dispatcher sets the priority; code 0 is an escalation with the code-0 policy behind it."""
    incident = incidents.get(session, incident_id=incident_id, for_update=True)
    if priority == PriorityCode.CODE_0 and incident.priority != PriorityCode.CODE_0:
        escalate_to_code0(
            session,
            platform=platform,
            incident=incident,
            cause=EscalationCause.DISPATCHER,
            reason=reason,
            actor=actor,
            at=at,
        )
    else:
        incidents.change_priority(
            session, incident_id=incident_id, priority=priority, actor=actor, reason=reason, at=at
        )
        dispatch_flow.top_up(session, platform=platform, incident=incident, actor=actor, at=at)
    after_orders(session, platform=platform, incident=incident, at=at)
    return incident


def cancel_by_person(
    session: Session, *, platform: Platform, incident: Incident, actor: str, at: datetime
) -> None:
    """The real PIN: the call-out ends unless danger is established; only a person acts after it.

    Cancelled: unacknowledged orders are withdrawn, every deadline that could escalate or order
    stops (ack, verification answer, dispatch retry), guardians get the cancel notice instead of
    anything pending, and the dispatcher is asked whether to stand down units that acknowledged.
    Confirmed or on scene (danger established): the incident stays; the dispatcher is asked.
    """
    terminal_notices.withdraw_pending(session, incident_id=incident.id, at=at)
    if incident.duress or incident.status == IncidentStatus.CANCELLED:
        return  # a duress incident stays escalated; a repeat changes nothing
    if IncidentStatus.CANCELLED not in TRANSITIONS[incident.status]:
        if incident.is_active:
            _ask_stand_down(
                session,
                incident,
                "the person cancelled with their PIN after danger was confirmed",
                actor,
                at,
            )
        return
    incidents.change_status(
        session,
        incident_id=incident.id,
        status=IncidentStatus.CANCELLED,
        actor=actor,
        reason="cancelled by the person with their PIN",
        at=at,
    )
    _stop_what_runs_by_itself(session, platform, incident, actor, at)
    _tell_guardians_cancelled(session, incident, at)
    _ask_stand_down(session, incident, "the person cancelled with their PIN", actor, at)


def duress(
    session: Session, *, platform: Platform, incident: Incident, actor: str, at: datetime
) -> None:
    """The duress PIN: code 0 with its units; the device and (by default) guardians see a cancel."""
    terminal_notices.withdraw_pending(session, incident_id=incident.id, at=at)
    first_duress = not incident.duress
    if first_duress:
        _flag_duress(session, incident, actor, at)
    if not incident.is_active:
        # A finished case cannot change, but the person is being forced now: a new code-0
        # incident linked to it. The device still meets the answer a real cancel gets.
        if first_duress:
            _open_after_duress(session, platform=platform, finished=incident, actor=actor, at=at)
        return
    # Forced after a cancel or a false alarm: the person's own act re-opens it.
    reopen = not incident.is_open and IncidentStatus.CONFIRMED in TRANSITIONS[incident.status]
    _escalate_under_duress(session, platform, incident, actor, at, confirm=reopen)
    if platform.verification.duress_tells_guardians_cancelled:
        _tell_guardians_cancelled(session, incident, at)


def _flag_duress(session: Session, incident: Incident, actor: str, at: datetime) -> None:
    incident.duress = True
    outbox.record(
        session,
        IncidentEvent(incident.id, "duress", at, actor, {"reason": DURESS_REASON}),
        "incident.duress",
        {"incident_id": incident.id, "channel": incident.channel.value},
    )


def _escalate_under_duress(
    session: Session,
    platform: Platform,
    incident: Incident,
    actor: str,
    at: datetime,
    *,
    confirm: bool,
) -> None:
    if confirm:
        incidents.change_status(
            session,
            incident_id=incident.id,
            status=IncidentStatus.CONFIRMED,
            actor=actor,
            reason=DURESS_REASON,
            at=at,
        )
    escalate_to_code0(
        session,
        platform=platform,
        incident=incident,
        cause=EscalationCause.DURESS,
        reason=DURESS_REASON,
        actor=actor,
        at=at,
    )


def _open_after_duress(
    session: Session, *, platform: Platform, finished: Incident, actor: str, at: datetime
) -> Incident:
    """The duress PIN on a resolved or closed case: a new incident at code 0 with its units.

    It starts where the finished case last placed the person (its own time, so the board shows how
    old it is). Nobody is messaged: a real cancel of a finished case sends nothing either.
    """
    incident = incidents.open_linked(session, earlier=finished, source=actor, at=at)
    incident.person_cancelled = True  # the device saw "cancelled"; a new press opens anew
    _flag_duress(session, incident, actor, at)
    _escalate_under_duress(session, platform, incident, actor, at, confirm=True)
    return incident


def _stop_what_runs_by_itself(
    session: Session, platform: Platform, incident: Incident, actor: str, at: datetime
) -> None:
    for assignment in dispatch.open_assignments(session, incident_id=incident.id):
        if assignment.state == AssignmentState.ORDERED:
            dispatch.end_assignment(
                session,
                assignment=assignment,
                state=AssignmentState.WITHDRAWN,
                reason="the person cancelled before the unit acknowledged",
                actor=actor,
                at=at,
            )
    deadlines.cancel(session, kind=verification.ANSWER_DEADLINE, subject_id=incident.id, at=at)
    dispatch_flow.mark_waiting(
        session, incident=incident, missing=0, retry_s=platform.policy.retry_s, at=at
    )
    deadlines.cancel(session, kind=DISPATCH_RETRY_DEADLINE, subject_id=incident.id, at=at)


def _tell_guardians_cancelled(session: Session, incident: Incident, at: datetime) -> int:
    """Messages not yet sent stay unsent; those already told of the SOS hear it was cancelled."""
    told: set[str] = set()
    for message in deliveries.for_incident(session, incident_id=incident.id):
        if message.recipient_kind not in _TOLD_OF_SOS or message.template == CANCEL_TEMPLATE:
            continue
        if message.status in _NOT_LEFT:
            deliveries.withdraw(session, delivery=message, reason="the SOS was cancelled", at=at)
        elif message.status in _LEFT and message.recipient_kind == RecipientKind.GUARDIAN:
            told.add(message.recipient_id)
    if not told or incident.subscriber_id is None:
        return 0
    subscriber = people.get_subscriber(session, subscriber_id=incident.subscriber_id)
    queued = 0
    for guardian in people.guardians_of(session, subscriber_id=subscriber.id):
        if guardian.id in told:
            queued += len(
                deliveries.queue_message(
                    session,
                    recipient=alerts.guardian_recipient(guardian),
                    template=CANCEL_TEMPLATE,
                    values={"name": subscriber.name},
                    at=at,
                    dedupe_key=f"{incident.id}:{CANCEL_TEMPLATE}",
                    incident_id=incident.id,
                    subscriber_id=subscriber.id,
                )
            )
    return queued


def _ask_stand_down(
    session: Session, incident: Incident, reason: str, actor: str, at: datetime
) -> None:
    """Units that acknowledged stay until a dispatcher decides: a timer never stands them down."""
    units = []
    for assignment in dispatch.open_assignments(session, incident_id=incident.id):
        unit = dispatch.get_unit(session, unit_id=assignment.unit_id)
        units.append(
            {"assignment_id": assignment.id, "unit_id": unit.id, "call_sign": unit.call_sign}
        )
    if not units:
        return
    data: dict[str, object] = {"incident_id": incident.id, "reason": reason, "units": units}
    outbox.record(
        session,
        IncidentEvent(incident.id, "stand_down_requested", at, actor, dict(data)),
        "incident.stand_down_requested",
        data,
    )
