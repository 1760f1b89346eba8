"""The board's commands on an incident: order a unit, move its status, set its priority, pre-empt.

The board's routes and the simulated dispatcher call these same functions, so an order by hand and
an order by the simulation do the same follow-ups (verification, the help-coming notice, audit).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from ansim.domain.incidents import Incident, IncidentStatus, PriorityCode
from ansim.domain.units import Assignment
from ansim.security import audit
from ansim.services import (
    dispatch,
    dispatch_flow,
    incidents,
    lifecycle,
    terminal_notices,
    verification,
)
from ansim.services.audit_trail import audited, name_of
from ansim.services.platform import Platform


def do_dispatch_unit(
    platform: Platform,
    *,
    incident_id: str,
    unit_id: str,
    actor: str | audit.Actor,
    session: Session | None = None,
) -> Assignment:
    """Orders an available unit to the incident; verification starts and the person is told help comes."""
    with audited(
        platform,
        actor=actor,
        action="incident.dispatch",
        incident_id=incident_id,
        subject=f"unit:{unit_id}",
        session=session,
    ) as own:
        now, who = platform.now(), name_of(actor)
        incident = incidents.get(own, incident_id=incident_id)
        ranked = {
            c.unit.id: c.eta_s
            for c in dispatch.rank_units(own, incident=incident, ranker=platform.ranker)
        }
        rule = platform.policy.rule_for(incident.channel, incident.priority)
        assignment = dispatch.order_unit(
            own,
            incident_id=incident_id,
            unit_id=unit_id,
            actor=who,
            at=now,
            eta_s=ranked.get(unit_id),
            ack_timeout_s=rule.ack_timeout_s,
        )
        verification.start(
            own, incident_id=incident_id, config=platform.verification, actor=who, at=now
        )
        terminal_notices.queue_help_coming(
            own, incident=incident, config=platform.verification, at=now
        )
        dispatch_flow.refresh_waiting(own, platform=platform, incident=incident, at=now)
        return assignment


def do_change_incident_status(
    platform: Platform,
    *,
    incident_id: str,
    status: IncidentStatus,
    reason: str,
    actor: str | audit.Actor,
    session: Session | None = None,
) -> Incident:
    """Moves the incident along its lifecycle; an illegal step is refused (Conflict)."""
    with audited(
        platform,
        actor=actor,
        action="incident.status",
        incident_id=incident_id,
        detail={"status": status.value, "reason": reason},
        session=session,
    ) as own:
        incident = incidents.change_status(
            own,
            incident_id=incident_id,
            status=status,
            actor=name_of(actor),
            reason=reason,
            at=platform.now(),
        )
        if incident.is_open:
            # A person re-opened or confirmed the case (e.g. cancelled → confirmed): from now on
            # the dispatch policy holds for it again (units ordered, or waiting with a retry).
            dispatch_flow.top_up(
                own, platform=platform, incident=incident, actor=name_of(actor), at=platform.now()
            )
        return incident


def do_change_incident_priority(
    platform: Platform,
    *,
    incident_id: str,
    priority: PriorityCode,
    reason: str,
    actor: str | audit.Actor,
    session: Session | None = None,
) -> Incident:
    """Sets the priority code; code 0 converges more units per the dispatch policy at once."""
    with audited(
        platform,
        actor=actor,
        action="incident.priority",
        incident_id=incident_id,
        detail={"priority": int(priority), "reason": reason},
        session=session,
    ) as own:
        # Code 0 is an escalation (cause "dispatcher") with the code-0 policy's units behind it.
        return lifecycle.change_priority_by_dispatcher(
            own,
            platform=platform,
            incident_id=incident_id,
            priority=priority,
            actor=name_of(actor),
            reason=reason,
            at=platform.now(),
        )


def do_preempt_unit(
    platform: Platform,
    *,
    incident_id: str,
    unit_id: str,
    confirm: bool,
    actor: str | audit.Actor,
    session: Session | None = None,
) -> Assignment:
    """Takes a unit off a code 2-4 job for this code 0/1 incident (confirmed); the job is re-queued."""
    dispatch_flow.check_confirmed(confirm)
    with audited(
        platform,
        actor=actor,
        action="incident.preempt",
        incident_id=incident_id,
        subject=f"unit:{unit_id}",
        session=session,
    ) as own:
        now = platform.now()
        assignment = dispatch_flow.preempt(
            own,
            incident_id=incident_id,
            unit_id=unit_id,
            platform=platform,
            actor=name_of(actor),
            at=now,
        )
        terminal_notices.queue_help_coming(
            own,
            incident=incidents.get(own, incident_id=incident_id),
            config=platform.verification,
            at=now,
        )
        return assignment
