"""An incident's location: every stored fix fused into one estimate, each fix with its verdict."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ansim.domain.errors import InvalidInput
from ansim.domain.estimate import Estimate
from ansim.domain.fixes import FixMethod, LocationFix
from ansim.domain.fusion import FixVerdict, LocationTrack, Outcome
from ansim.domain.incidents import Incident
from ansim.store import outbox
from ansim.store.tables import location_fixes


def add_fix(
    session: Session,
    *,
    incident: Incident,
    fix: LocationFix,
    received_at: datetime,
    keep_refused: bool = False,
) -> FixVerdict:
    """Fuses `fix` into the incident's estimate and stores it with its verdict; flushes.

    A fix from the future raises InvalidInput. A fix no vehicle could have reached raises it
    too, unless `keep_refused`: then it is stored as refused for the audit and the estimate
    stays put (a repeated SOS is never lost over its fix).
    """
    fix.check_not_future(received_at)  # a clock in the future is a bad message, never kept
    track, rows = _track(session, incident_id=incident.id, now=received_at)
    verdict = track.add(fix, now=received_at)
    if verdict.outcome is Outcome.REFUSED and not keep_refused:
        raise InvalidInput(f"fix refused: {verdict.reason}")
    session.execute(
        location_fixes.insert().values(
            incident_id=incident.id,
            lat=fix.lat,
            lon=fix.lon,
            radius_m=fix.radius_m,
            method=fix.method.value,
            observed_at=fix.observed_at,
            received_at=received_at,
            source=fix.source,
            altitude_m=fix.altitude_m,
            floor=fix.floor,
            speed_mps=fix.speed_mps,
            heading_deg=fix.heading_deg,
            verdict=verdict.outcome.value,
            verdict_reason=verdict.reason[:300],
        )
    )
    if verdict.outcome is not Outcome.ACCEPTED:
        return verdict
    _revise_verdicts(session, track, rows)
    current = track.estimate(received_at)
    assert current is not None  # the fix was just accepted
    # Stored as of the last fix taken in; readers grow it for staleness at their own `now`.
    incident.take_estimate(track.estimate(current.last_fix_at) or current, at=received_at)
    outbox.emit(
        session,
        "incident.located",
        {"incident_id": incident.id, "location": location_of(incident)},
        at=received_at,
        incident_id=incident.id,
    )
    return verdict


def estimate(session: Session, *, incident_id: str, now: datetime) -> Estimate | None:
    """The incident's fused estimate at `now`, its uncertainty grown since the last fix."""
    track, _rows = _track(session, incident_id=incident_id, now=now)
    return track.estimate(now)


def location_of(incident: Incident) -> dict[str, Any] | None:
    """The incident's stored estimate as events and views carry it."""
    if incident.lat is None or incident.lon is None or incident.located_at is None:
        return None
    return {
        "lat": incident.lat,
        "lon": incident.lon,
        "radius_m": incident.radius_m or 0.0,
        "method": incident.location_method or "unknown",
        "located_at": incident.located_at,
        "semi_major_m": incident.semi_major_m,
        "semi_minor_m": incident.semi_minor_m,
        "orientation_deg": incident.orientation_deg,
        "area_m2": incident.area_m2,
    }


_Stored = dict[LocationFix, list[tuple[int, str]]]


def _track(session: Session, *, incident_id: str, now: datetime) -> tuple[LocationTrack, _Stored]:
    """Rebuilds the track from the stored fixes (refused ones stay out); (row id, verdict) by fix."""
    rows = session.execute(
        sa.select(location_fixes)
        .where(
            location_fixes.c.incident_id == incident_id,
            location_fixes.c.verdict != Outcome.REFUSED.value,
        )
        .order_by(location_fixes.c.observed_at, location_fixes.c.id)
    ).mappings()
    by_fix: _Stored = {}
    for row in rows:
        by_fix.setdefault(_fix_of(row), []).append((row["id"], row["verdict"]))
    # Stored fixes are replayed as they were taken in: `now` only guards against the future.
    latest = max((f.observed_at for f in by_fix), default=now)
    return LocationTrack.from_fixes(by_fix, now=max(now, latest)), by_fix


def _revise_verdicts(session: Session, track: LocationTrack, rows: _Stored) -> None:
    """A new fix can turn earlier verdicts (a re-acquisition revives gated fixes)."""
    for fix, outcome in zip(track.fixes, track.outcomes(), strict=True):
        stored = rows.get(fix)
        if stored and stored[0][1] != outcome.value:
            session.execute(
                location_fixes.update()
                .where(location_fixes.c.id == stored[0][0])
                .values(verdict=outcome.value)
            )


def _fix_of(row: Any) -> LocationFix:
    return LocationFix(
        lat=row["lat"],
        lon=row["lon"],
        radius_m=row["radius_m"],
        method=FixMethod(row["method"]),
        observed_at=row["observed_at"],
        source=row["source"],
        altitude_m=row["altitude_m"],
        floor=row["floor"],
        speed_mps=row["speed_mps"],
        heading_deg=row["heading_deg"],
    )
