"""Cancelling an SOS with the person's PIN; the duress PIN looks like a cancel and escalates instead."""

from __future__ import annotations

from datetime import datetime

from ansim.domain.errors import NotFound
from ansim.domain.incidents import IncidentEvent, IncidentStatus, PriorityCode
from ansim.services import incidents, terminal_notices
from ansim.services.app_accounts import PinVerdict, judge_pin
from ansim.store import outbox
from ansim.store.uow import UnitOfWork

DURESS_REASON = "duress PIN entered: the person is being forced to cancel"


def do_cancel_with_pin(
    uow: UnitOfWork, *, incident_id: str, subscriber_id: str, pin: str, actor: str, at: datetime
) -> PinVerdict:
    """Judges the PIN and applies it in one transaction; a wrong PIN only counts, never cancels."""
    with uow.begin() as session:
        incident = incidents.get(session, incident_id=incident_id, for_update=True)
        if incident.subscriber_id != subscriber_id:
            raise NotFound(f"no incident {incident_id}")
        verdict, failures = judge_pin(session, subscriber_id=subscriber_id, pin=pin)
        if verdict is not PinVerdict.WRONG:
            # The same for the PIN and the duress PIN: the device must not be able to tell them apart.
            terminal_notices.withdraw_pending(session, incident_id=incident.id, at=at)
        if verdict is PinVerdict.WRONG:
            outbox.record(
                session,
                IncidentEvent(
                    incident.id, "cancel_refused", at, actor, {"failed_attempts": max(failures, 1)}
                ),
                "incident.cancel_refused",
                {"incident_id": incident.id, "failed_attempts": max(failures, 1)},
            )
        elif verdict is PinVerdict.DURESS:
            if not incident.duress:
                incident.duress = True
                outbox.record(
                    session,
                    IncidentEvent(incident.id, "duress", at, actor, {"reason": DURESS_REASON}),
                    "incident.duress",
                    {"incident_id": incident.id, "channel": incident.channel.value},
                )
            if incident.priority != PriorityCode.CODE_0 and incident.is_active:
                incidents.change_priority(
                    session,
                    incident_id=incident.id,
                    priority=PriorityCode.CODE_0,
                    actor=actor,
                    reason=DURESS_REASON,
                    at=at,
                )
        elif incident.status is not IncidentStatus.CANCELLED and not incident.duress:
            incidents.change_status(
                session,
                incident_id=incident.id,
                status=IncidentStatus.CANCELLED,
                actor=actor,
                reason="cancelled by the person with their PIN",
                at=at,
            )
        return verdict


def seen_by_person(status: IncidentStatus, *, duress: bool) -> str:
    """What the person's device may show: a duress cancel must look exactly like a real one."""
    if duress or status in {IncidentStatus.CANCELLED}:
        return "cancelled"
    if status in {IncidentStatus.RESOLVED, IncidentStatus.CLOSED, IncidentStatus.FALSE_ALARM}:
        return "closed"
    return "active"
