"""Cancelling an SOS with the person's PIN; the duress PIN looks like a cancel and escalates instead."""

from __future__ import annotations

from sqlalchemy.orm import Session

from ansim.domain.errors import NotFound
from ansim.domain.incidents import TRANSITIONS, IncidentEvent, IncidentStatus, PriorityCode
from ansim.services import incidents, terminal_notices
from ansim.services.app_accounts import PinVerdict, judge_pin
from ansim.services.platform import Platform, transaction
from ansim.store import outbox

DURESS_REASON = "duress PIN entered: the person is being forced to cancel"


def do_cancel_with_pin(
    platform: Platform,
    *,
    incident_id: str,
    subscriber_id: str,
    pin: str,
    actor: str,
    session: Session | None = None,
) -> PinVerdict:
    """Judges the PIN and applies it in one transaction; a wrong PIN only counts, never cancels.

    Either correct PIN, in any state, gives the device the same answer and the same later view
    ("cancelled"); only what happens to the incident differs (docs/terminal-protocol.md).
    """
    at = platform.now()
    with transaction(platform, session) as session:
        incident = incidents.get(session, incident_id=incident_id, for_update=True)
        if incident.subscriber_id != subscriber_id:
            raise NotFound(f"no incident {incident_id}")
        verdict, failures = judge_pin(session, subscriber_id=subscriber_id, pin=pin)
        if verdict is not PinVerdict.WRONG:
            # The same for the PIN and the duress PIN: the device must not be able to tell them apart.
            terminal_notices.withdraw_pending(session, incident_id=incident.id, at=at)
            incident.person_cancelled = True
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
        elif incident.duress or incident.status is IncidentStatus.CANCELLED:
            pass  # already cancelled, or a real PIN after duress: the escalation stands
        elif IncidentStatus.CANCELLED not in TRANSITIONS[incident.status]:
            # Confirmed danger, units on scene, or already over: only a person at the centre may
            # stand it down. They are told; the device answers as for any cancel.
            outbox.record(
                session,
                IncidentEvent(
                    incident.id, "cancel_requested", at, actor, {"status": incident.status.value}
                ),
                "incident.cancel_requested",
                {"incident_id": incident.id, "status": incident.status.value},
            )
        else:
            incidents.change_status(
                session,
                incident_id=incident.id,
                status=IncidentStatus.CANCELLED,
                actor=actor,
                reason="cancelled by the person with their PIN",
                at=at,
            )
        return verdict


def seen_by_person(status: IncidentStatus, *, duress: bool, person_cancelled: bool = False) -> str:
    """What the person's device may show: a duress cancel must look exactly like a real one."""
    if duress or person_cancelled or status in {IncidentStatus.CANCELLED}:
        return "cancelled"
    if status in {IncidentStatus.RESOLVED, IncidentStatus.CLOSED, IncidentStatus.FALSE_ALARM}:
        return "closed"
    return "active"
