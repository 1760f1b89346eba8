"""Handset-derived location (AML SMS, Android ELS) joined to the caller's incident by number or IMEI."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ansim.domain.errors import InvalidInput
from ansim.domain.fixes import LocationFix
from ansim.domain.incidents import OPEN_STATUSES, Channel, Incident
from ansim.services import incidents, people
from ansim.store.tables import handset_fixes
from ansim.store.tables import incidents as incidents_table

# AML is sent at call time or up to ~20 s in; an incident older than this is another call.
ATTACH_WINDOW = timedelta(minutes=10)
# The SMS can beat the carrier's call notification: keep it this long for an incident to come.
PENDING_WINDOW = timedelta(seconds=60)
# A handset sends a few fixes per call; more for a number with no incident is a flood, not a caller.
# Fixes for an open incident are never limited.
MAX_PENDING_PER_HANDSET = 5


class TooManyPending(InvalidInput):
    """Fixes for a number or IMEI with no incident arrive faster than any real handset sends them."""


def attach_or_keep(
    session: Session,
    *,
    channel: str,
    caller_number: str | None,
    imei: str | None,
    fix: LocationFix,
    received_at: datetime,
) -> str | None:
    """Stores the fix; adds it to the caller's open incident and returns its id, else keeps it pending."""
    fix.check_not_future(received_at)
    incident = _open_incident(session, caller_number=caller_number, imei=imei, at=received_at)
    if incident is None:
        _check_pending_rate(session, caller_number=caller_number, imei=imei, at=received_at)
    session.execute(
        handset_fixes.insert().values(
            channel=channel,
            caller_number=caller_number,
            imei=imei,
            incident_id=incident.id if incident else None,
            **fix.columns(),
            received_at=received_at,
        )
    )
    if incident is None:
        return None
    incidents.add_fix(session, incident=incident, fix=fix, received_at=received_at)
    return incident.id


def _check_pending_rate(
    session: Session, *, caller_number: str | None, imei: str | None, at: datetime
) -> None:
    """Refuses a sixth waiting fix per number (or IMEI) within the pending window."""
    same = []
    if caller_number is not None:
        same.append(handset_fixes.c.caller_number == caller_number)
    if imei is not None:
        same.append(handset_fixes.c.imei == imei)
    waiting = session.execute(
        sa.select(sa.func.count())
        .select_from(handset_fixes)
        .where(
            sa.or_(*same),
            handset_fixes.c.incident_id.is_(None),
            handset_fixes.c.received_at >= at - PENDING_WINDOW,
        )
    ).scalar_one()
    if waiting >= MAX_PENDING_PER_HANDSET:
        raise TooManyPending(
            f"{waiting} fixes already wait for a call from this handset in the last "
            f"{PENDING_WINDOW.seconds} s"
        )


def claim_pending(session: Session, *, incident: Incident, at: datetime) -> int:
    """Gives an incident that just opened the handset fixes that arrived shortly before it."""
    if not incident.caller_number:
        return 0
    rows = list(
        session.execute(
            sa.select(handset_fixes)
            .where(
                handset_fixes.c.caller_number == incident.caller_number,
                handset_fixes.c.incident_id.is_(None),
                handset_fixes.c.received_at >= at - PENDING_WINDOW,
            )
            .order_by(handset_fixes.c.observed_at)
        ).mappings()
    )
    if not rows:
        return 0
    session.execute(
        handset_fixes.update()
        .where(handset_fixes.c.id.in_([row["id"] for row in rows]))
        .values(incident_id=incident.id)
    )
    # Kept as refused rather than failing the SOS when one jumps impossibly (as the SOS's own fix).
    incidents.add_fixes(
        session,
        incident=incident,
        fixes=[LocationFix.from_columns(r) for r in rows],
        received_at=at,
        keep_refused=True,
    )
    return len(rows)


def _open_incident(
    session: Session, *, caller_number: str | None, imei: str | None, at: datetime
) -> Incident | None:
    recent = sa.and_(
        incidents_table.c.status.in_(OPEN_STATUSES),
        incidents_table.c.received_at >= at - ATTACH_WINDOW,
    )
    matches = []
    if caller_number:
        matches.append(incidents_table.c.caller_number == caller_number)
        bound = people.binding(session, channel=Channel.ONE_TOUCH, address=caller_number)
        if bound is not None:
            matches.append(incidents_table.c.subscriber_id == bound.subscriber_id)
    if imei:
        # The SMS and HTTPS copies of one call share the IMEI even when only one carries the number.
        earlier = sa.select(handset_fixes.c.incident_id).where(
            handset_fixes.c.imei == imei, handset_fixes.c.incident_id.is_not(None)
        )
        matches.append(incidents_table.c.id.in_(earlier))
    if not matches:
        return None
    return session.execute(
        sa.select(Incident)
        .where(recent, sa.or_(*matches))
        .order_by(incidents_table.c.received_at.desc())
        .limit(1)
    ).scalar_one_or_none()
