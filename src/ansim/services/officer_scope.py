"""What an officer may see: only incidents their unit holds an open order for.

One rule for every place that decides (incident detail, location, routes, the live stream): an order
that timed out, was declined, pre-empted or cleared no longer opens the incident's person and
guardians to that unit.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from ansim.domain.errors import Forbidden
from ansim.domain.staff import Role, StaffUser
from ansim.services.dispatch import open_assignments

NOT_YOUR_INCIDENT = "officers see only incidents their unit has an open order for"


def unit_has_open_order(session: Session, *, unit_id: str | None, incident_id: str) -> bool:
    """True while `unit_id` holds an open assignment to the incident."""
    if unit_id is None:
        return False
    return bool(open_assignments(session, incident_id=incident_id, unit_id=unit_id))


def may_see_incident(session: Session, user: StaffUser, *, incident_id: str) -> bool:
    """Console roles see every incident; an officer only those of their unit's open orders."""
    if user.role != Role.OFFICER:
        return True
    return unit_has_open_order(session, unit_id=user.unit_id, incident_id=incident_id)


def check_may_see_incident(session: Session, user: StaffUser, *, incident_id: str) -> None:
    """Refuses (403) an officer whose unit has no open order for the incident."""
    if not may_see_incident(session, user, incident_id=incident_id):
        raise Forbidden(NOT_YOUR_INCIDENT)


def open_incident_ids(session: Session, *, unit_id: str | None) -> set[str]:
    """The incidents the unit holds an open order for (the officer's list)."""
    if unit_id is None:
        return set()
    return {a.incident_id for a in open_assignments(session, unit_id=unit_id)}
