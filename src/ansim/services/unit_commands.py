"""A unit's commands from its terminal (MDT) or crew: acknowledge, decline, status and position.

Officers' routes and the simulated crews call these same functions.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from ansim.domain.units import Assignment, AssignmentState, Unit, UnitStatus
from ansim.security import audit
from ansim.services import dispatch, dispatch_flow
from ansim.services.audit_trail import audited, name_of
from ansim.services.platform import Platform, transaction
from ansim.services.road_ranking import check_on_map


@dataclass(frozen=True)
class Declined:
    """A declined order and the order that replaced it (None: no other unit was free)."""

    declined: Assignment
    successor: Assignment | None


def do_acknowledge_order(
    platform: Platform,
    *,
    assignment_id: str,
    actor: str | audit.Actor,
    session: Session | None = None,
) -> Assignment:
    """The unit has the order: its acknowledgement deadline stops (a repeat is harmless)."""
    with transaction(platform, session) as own:
        return dispatch.acknowledge(
            own, assignment_id=assignment_id, actor=name_of(actor), at=platform.now()
        )


def do_decline_order(
    platform: Platform,
    *,
    assignment_id: str,
    actor: str | audit.Actor,
    session: Session | None = None,
) -> Declined:
    """The unit cannot go: the order moves to the next unit by ETA at once."""
    with transaction(platform, session) as own:
        successor = dispatch_flow.decline(
            own,
            assignment_id=assignment_id,
            platform=platform,
            actor=name_of(actor),
            at=platform.now(),
        )
        declined = dispatch.get_assignment(own, assignment_id=assignment_id)
        return Declined(declined=declined, successor=successor)


def do_change_unit_status(
    platform: Platform,
    *,
    unit_id: str,
    status: UnitStatus,
    actor: str | audit.Actor,
    session: Session | None = None,
) -> Unit:
    """En route, on scene, available, off duty: the unit's assignment follows its status."""
    with audited(
        platform,
        actor=actor,
        action="unit.status",
        subject=f"unit:{unit_id}",
        detail={"status": status.value},
        session=session,
    ) as own:
        current = dispatch.open_assignments(own, unit_id=unit_id)
        if (
            status == UnitStatus.AVAILABLE
            and current
            and current[0].state == AssignmentState.ORDERED
        ):
            # Clearing an order never acknowledged is a decline: the order moves on at once.
            dispatch_flow.decline(
                own,
                assignment_id=current[0].id,
                platform=platform,
                actor=name_of(actor),
                at=platform.now(),
            )
            return dispatch.get_unit(own, unit_id=unit_id)
        return dispatch.change_unit_status(
            own, unit_id=unit_id, status=status, actor=name_of(actor), at=platform.now()
        )


def do_report_unit_position(
    platform: Platform,
    *,
    unit_id: str,
    lat: float,
    lon: float,
    session: Session | None = None,
) -> Unit:
    """A position report (AVL); a position the road map cannot route from is refused (422)."""
    check_on_map(platform.ranker, lat, lon)
    with transaction(platform, session) as own:
        return dispatch.move_unit(own, unit_id=unit_id, lat=lat, lon=lon, at=platform.now())
