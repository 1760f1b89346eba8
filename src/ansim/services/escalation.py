"""Escalation to code 0: whatever raises it (guardian, silence, duress, dispatcher), the policy follows.

Code 0 asks for more units (`DispatchPolicy.code0_extra_units`). Raising the priority alone would
leave a confirmed danger with the one unit it had, so every escalation tops the incident up in the
same transaction, or marks it waiting with a durable retry, and says so in `incident.escalated`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from ansim.domain.incidents import EscalationCause, Incident, IncidentEvent, PriorityCode
from ansim.services import dispatch, dispatch_flow
from ansim.services.platform import Platform
from ansim.store import outbox


def escalate_to_code0(
    session: Session,
    *,
    platform: Platform,
    incident: Incident,
    cause: EscalationCause,
    reason: str,
    actor: str,
    at: datetime,
) -> list[str]:
    """Code 0 and the code-0 dispatch policy; returns the call signs ordered now.

    Emits `incident.escalated` {incident_id, priority, cause, reason, units_ordered,
    waiting_for_units} for the board and the MDT (the consoles render it as a re-alert).
    """
    entry = incident.raise_priority(PriorityCode.CODE_0, at=at, actor=actor, reason=reason)
    if entry is not None:
        outbox.record(
            session, entry, "incident.priority_changed", {"incident_id": incident.id, **entry.data}
        )
    ordered = dispatch_flow.top_up(
        session, platform=platform, incident=incident, actor=actor, at=at
    )
    call_signs = [dispatch.get_unit(session, unit_id=a.unit_id).call_sign for a in ordered]
    data: dict[str, object] = {
        "incident_id": incident.id,
        "priority": int(incident.priority),
        "cause": cause.value,
        "reason": reason,
        "units_ordered": call_signs,
        "waiting_for_units": incident.waiting_for_units,
    }
    outbox.record(
        session,
        IncidentEvent(incident.id, "escalated", at, actor, dict(data)),
        "incident.escalated",
        data,
    )
    return call_signs
