"""Cancelling an SOS with the person's PIN; the duress PIN looks like a cancel and escalates instead."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from ansim.domain.errors import NotFound
from ansim.domain.incidents import Incident, IncidentEvent, IncidentStatus
from ansim.domain.units import AssignmentState
from ansim.services import dispatch, incidents, lifecycle
from ansim.services.app_accounts import PinVerdict, judge_pin
from ansim.services.platform import Platform, transaction
from ansim.store import outbox

DURESS_REASON = lifecycle.DURESS_REASON


def do_cancel_with_pin(
    platform: Platform,
    *,
    incident_id: str,
    subscriber_id: str,
    pin: str,
    actor: str,
    at: datetime | None = None,
    session: Session | None = None,
) -> PinVerdict:
    """Judges the PIN and applies it in one transaction; a wrong PIN only counts, never cancels.

    What each PIN does to the incident is services.lifecycle's (`cancel_by_person`, `duress`);
    what the device is answered is the caller's, and must not tell the two PINs apart.
    """
    at = at or platform.now()
    with transaction(platform, session) as tx:
        incident = incidents.get(tx, incident_id=incident_id, for_update=True)
        if incident.subscriber_id != subscriber_id:
            raise NotFound(f"no incident {incident_id}")
        verdict, failures = judge_pin(tx, subscriber_id=subscriber_id, pin=pin)
        if verdict is PinVerdict.WRONG:
            outbox.record(
                tx,
                IncidentEvent(
                    incident.id, "cancel_refused", at, actor, {"failed_attempts": max(failures, 1)}
                ),
                "incident.cancel_refused",
                {"incident_id": incident.id, "failed_attempts": max(failures, 1)},
            )
        else:
            # Either PIN: the device shows "cancelled" from now on, whatever the incident does.
            incident.person_cancelled = True
        if verdict is PinVerdict.DURESS:
            lifecycle.duress(tx, platform=platform, incident=incident, actor=actor, at=at)
        elif verdict is PinVerdict.CANCEL:
            lifecycle.cancel_by_person(tx, platform=platform, incident=incident, actor=actor, at=at)
        return verdict


def seen_by_person(status: IncidentStatus, *, duress: bool, person_cancelled: bool = False) -> str:
    """What the person's device may show: a duress cancel must look exactly like a real one."""
    if duress or person_cancelled or status in {IncidentStatus.CANCELLED}:
        return "cancelled"
    if status in {IncidentStatus.RESOLVED, IncidentStatus.CLOSED, IncidentStatus.FALSE_ALARM}:
        return "closed"
    return "active"


def quiet_step(session: Session, *, incident: Incident, now: datetime) -> tuple[str, float | None]:
    """The calm status the person's screen shows, and the nearest unit's time left when coming.

    received / help_coming (with seconds left) / on_scene / cancelled / closed: never the police's
    own status, and after either correct PIN exactly "cancelled".
    """
    seen = seen_by_person(
        incident.status, duress=incident.duress, person_cancelled=incident.person_cancelled
    )
    if seen != "active":
        return seen, None
    orders = dispatch.open_assignments(session, incident_id=incident.id)
    if any(a.state == AssignmentState.ON_SCENE for a in orders):
        return "on_scene", None
    if not orders:
        return "received", None
    left = [
        max(0.0, a.eta_s - (now - a.ordered_at).total_seconds())
        for a in orders
        if a.eta_s is not None
    ]
    return "help_coming", round(min(left), 0) if left else None
