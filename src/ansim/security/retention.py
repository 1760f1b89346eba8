"""Retention: location history and guardian answers go some time after an incident closes.

The incident, its timeline and its audit entries stay: a `personal_data_purged` timeline entry says
what went and when. Other capabilities that keep personal answers (guardian verification) add a
purge function to `PURGES` (one line); each takes the session and the incident id and returns how
many rows it removed. A durable deadline (`retention.sweep`) runs the purge hourly; `ansim
retention purge` runs it by hand.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ansim.domain.incidents import UNFINISHED_STATUSES, IncidentEvent
from ansim.security import audit
from ansim.store import deadlines
from ansim.store.deadlines import Deadline
from ansim.store.tables import (
    handset_fixes,
    incident_events,
    incidents,
    location_fixes,
    location_tracks,
    outbox,
    verification_answers,
)

SWEEP_KIND = "retention.sweep"
SWEEP_EVERY = timedelta(hours=1)
PURGED = "personal_data_purged"


def _purge_fixes(session: Session, incident_id: str) -> int:
    result = session.execute(
        location_fixes.delete().where(location_fixes.c.incident_id == incident_id)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def _purge_track(session: Session, incident_id: str) -> int:
    # The filter checkpoint holds recent positions and fixes: it goes with them.
    result = session.execute(
        location_tracks.delete().where(location_tracks.c.incident_id == incident_id)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def _purge_guardian_answers(session: Session, incident_id: str) -> int:
    # The timeline keeps that guardians answered and what was decided; who said what goes.
    result = session.execute(
        verification_answers.delete().where(verification_answers.c.incident_id == incident_id)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def _purge_handset_fixes(session: Session, incident_id: str) -> int:
    result = session.execute(
        handset_fixes.delete().where(handset_fixes.c.incident_id == incident_id)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


PURGES: dict[str, Callable[[Session, str], int]] = {
    "location_fixes": _purge_fixes,
    "handset_fixes": _purge_handset_fixes,
    "location_tracks": _purge_track,
    "verification_answers": _purge_guardian_answers,
}


@dataclass(frozen=True)
class PurgeReport:
    incidents: int
    rows: dict[str, int]


def due_incidents(session: Session, *, now: datetime, keep_for: timedelta) -> list[str]:
    """Closed incidents past retention whose personal data is not purged yet."""
    purged = sa.select(incident_events.c.incident_id).where(incident_events.c.kind == PURGED)
    query = sa.select(incidents.c.id).where(
        incidents.c.status.notin_([s.value for s in UNFINISHED_STATUSES]),
        incidents.c.updated_at <= now - keep_for,
        incidents.c.id.notin_(purged),
    )
    return list(session.execute(query.order_by(incidents.c.updated_at)).scalars())


def purge(session: Session, *, now: datetime, keep_for: timedelta) -> PurgeReport:
    """Purges every due incident in the caller's transaction; flushes, never commits."""
    totals: dict[str, int] = {}
    due = due_incidents(session, now=now, keep_for=keep_for)
    for incident_id in due:
        removed = {name: purge_one(session, incident_id) for name, purge_one in PURGES.items()}
        removed["locations"] = _forget_location(session, incident_id)
        for name, count in removed.items():
            totals[name] = totals.get(name, 0) + count
        session.add(IncidentEvent(incident_id, PURGED, now, "retention", {"removed": removed}))
        audit.record(
            session,
            actor=audit.SYSTEM,
            action="retention.purge",
            at=now,
            incident_id=incident_id,
            detail={"removed": removed},
        )
    # AML/ELS fixes no call ever claimed belong to no incident: they go by their own age.
    stray = session.execute(
        handset_fixes.delete().where(
            handset_fixes.c.incident_id.is_(None), handset_fixes.c.received_at <= now - keep_for
        )
    )
    if stray.rowcount:  # type: ignore[attr-defined]
        totals["handset_fixes"] = totals.get("handset_fixes", 0) + int(stray.rowcount)  # type: ignore[attr-defined]
    session.flush()
    return PurgeReport(incidents=len(due), rows=totals)


def _forget_location(session: Session, incident_id: str) -> int:
    """Drops the incident's last location and the locations its published events carried."""
    session.execute(
        incidents.update()
        .where(incidents.c.id == incident_id)
        .values(lat=None, lon=None, radius_m=None, located_at=None)
    )
    count = 0
    rows = session.execute(
        sa.select(outbox.c.id, outbox.c.data).where(
            outbox.c.incident_id == incident_id, outbox.c.published_at.isnot(None)
        )
    ).all()
    for event_id, data in rows:
        if isinstance(data, dict) and data.get("location") is not None:
            scrubbed: dict[str, Any] = {**data, "location": None}
            session.execute(outbox.update().where(outbox.c.id == event_id).values(data=scrubbed))
            count += 1
    return count


def ensure_sweep(session: Session, *, now: datetime, keep_for: timedelta) -> None:
    """Schedules the hourly sweep unless one is pending (called at start-up)."""
    if not deadlines.pending(session, kind=SWEEP_KIND):
        _schedule(session, now=now, keep_for=keep_for)


def _schedule(session: Session, *, now: datetime, keep_for: timedelta) -> None:
    deadlines.schedule(
        session,
        kind=SWEEP_KIND,
        subject_id="retention",
        due_at=now + SWEEP_EVERY,
        at=now,
        data={"keep_for_s": keep_for.total_seconds()},
    )


def sweep_handler(session: Session, deadline: Deadline, now: datetime) -> None:
    """The `retention.sweep` deadline: purge what is due, then schedule the next sweep."""
    keep_for = timedelta(seconds=float(deadline.data["keep_for_s"]))
    purge(session, now=now, keep_for=keep_for)
    _schedule(session, now=now, keep_for=keep_for)
