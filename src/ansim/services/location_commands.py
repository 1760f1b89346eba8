"""The live-fix command: a device's later fixes for its open incident (the app and the simulation)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from ansim.domain.errors import Conflict, NotFound
from ansim.domain.fixes import LocationFix
from ansim.domain.fusion import FixVerdict
from ansim.services import incidents
from ansim.services.platform import Platform, transaction


def do_add_fixes(
    platform: Platform,
    *,
    incident_id: str,
    fixes: Sequence[LocationFix],
    subscriber_id: str | None = None,
    session: Session | None = None,
) -> list[FixVerdict]:
    """Stores a batch of fixes (any order) for an open incident: one estimate update, one event.

    With `subscriber_id`, only that person's incident is found (a device sees no one else's).
    """
    with transaction(platform, session) as own:
        incident = incidents.get(own, incident_id=incident_id, for_update=True)
        if subscriber_id is not None and incident.subscriber_id != subscriber_id:
            raise NotFound(f"no incident {incident_id}")
        if not incident.is_active:
            raise Conflict("the incident is closed; fixes are no longer taken")
        return incidents.add_fixes(own, incident=incident, fixes=fixes, received_at=platform.now())
