"""An incident's location: every stored fix fused into one estimate, each fix with its verdict.

The track is kept as a checkpoint (table location_tracks) beside the fixes, so a batch of new
fixes costs its own filtering, not a replay of the incident's whole history.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ansim.domain.dispatch_policy import DISPATCH_RETRY_DEADLINE
from ansim.domain.errors import InvalidInput
from ansim.domain.estimate import WALK_GROWTH_MPS, Estimate
from ansim.domain.fixes import LocationFix
from ansim.domain.fusion import FixVerdict, LocationTrack, Outcome, order_key
from ansim.domain.incidents import Incident
from ansim.domain.track_checkpoint import TrackCheckpoint
from ansim.geo.demo_data import load_road_graph
from ansim.geo.road_region import with_road_region
from ansim.store import deadlines, outbox
from ansim.store.tables import location_fixes, location_tracks


def add_fix(
    session: Session,
    *,
    incident: Incident,
    fix: LocationFix,
    received_at: datetime,
    keep_refused: bool = False,
) -> FixVerdict:
    """Fuses `fix` into the incident's estimate and stores it with its verdict; flushes.

    The batch of one of `add_fixes`, which says what is refused and when.
    """
    (verdict,) = add_fixes(
        session, incident=incident, fixes=[fix], received_at=received_at, keep_refused=keep_refused
    )
    return verdict


def add_fixes(
    session: Session,
    *,
    incident: Incident,
    fixes: Sequence[LocationFix],
    received_at: datetime,
    keep_refused: bool = False,
) -> list[FixVerdict]:
    """Fuses a batch of fixes into the incident's estimate and stores each with its verdict; flushes.

    The fixes are filtered in time order on the stored track (one that reaches back before the
    newest stored fix re-filters the history from where it belongs); all are stored in one
    insert, and one `incident.located` tells the batch's outcome. Verdicts come in the order of
    `fixes`. A fix from the future raises InvalidInput. A fix no vehicle could have reached raises
    it too (nothing of the batch is kept), unless `keep_refused`: then it is stored as refused
    for the audit and the estimate stays put (a repeated SOS is never lost over its fix).
    """
    if not fixes:
        return []
    fixes = [_in_utc(fix) for fix in fixes]
    unlocated = incident.lat is None
    for fix in fixes:
        fix.check_not_future(received_at)  # a clock in the future is a bad message, never kept
    # The checkpoint is read, moved and written back: safe, writers take turns (UnitOfWork.begin).
    saved = _saved_track(session, incident_id=incident.id)
    if saved is None or any(saved[0].needs_history(fix) for fix in fixes):
        track, stored = _replayed_track(session, incident_id=incident.id, now=received_at)
    else:
        track, stored = saved
    order = sorted(range(len(fixes)), key=lambda n: order_key(fixes[n]))
    verdicts: dict[int, FixVerdict] = {}
    for n in order:
        verdicts[n] = verdict = track.add(fixes[n], now=received_at)
        if verdict.outcome is Outcome.REFUSED and not keep_refused:
            which = f"fix {n + 1} of {len(fixes)}" if len(fixes) > 1 else "fix"
            raise InvalidInput(f"{which} refused: {verdict.reason}")
    _insert(session, incident.id, [(fixes[n], verdicts[n]) for n in order], track, received_at)
    _revise_verdicts(session, track, stored)
    changed = any(v.outcome in _KEPT for v in verdicts.values())
    if track.last_fix_at is not None and (changed or saved is None):
        _save_track(session, incident.id, track, stored, at=received_at)
    if any(v.outcome is Outcome.ACCEPTED for v in verdicts.values()):
        assert track.last_fix_at is not None  # a fix was just accepted
        # Stored as of the last fix taken in; readers grow it for staleness at their own `now`.
        current = track.estimate(track.last_fix_at)
        assert current is not None
        current = on_roads(current)
        incident.take_estimate(current, at=received_at)
        outbox.emit(
            session,
            "incident.located",
            {"incident_id": incident.id, "location": location_of(incident)},
            at=received_at,
            incident_id=incident.id,
        )
        if unlocated and incident.waiting_for_units > 0 and incident.is_open:
            # The first usable fix, whatever its channel: the waiting incident's retry fires now.
            deadlines.move(
                session,
                kind=DISPATCH_RETRY_DEADLINE,
                subject_id=incident.id,
                due_at=received_at,
                at=received_at,
            )
    return [verdicts[n] for n in range(len(fixes))]


def estimate(session: Session, *, incident_id: str, now: datetime) -> Estimate | None:
    """The incident's fused estimate at `now`, its uncertainty grown since the last fix."""
    saved = _saved_track(session, incident_id=incident_id)
    track = saved[0] if saved else _replayed_track(session, incident_id=incident_id, now=now)[0]
    found = track.estimate(now)
    return on_roads(found) if found is not None else None


def on_roads(estimate: Estimate) -> Estimate:
    """The estimate with the road-shaped region of a car on the bundled roads, when it has one,
    and its position driven on along the matched roads (docs/location.md, "Vehicles on roads");
    otherwise the ellipse stays the 95 % region and the position the filter's."""
    return with_road_region(estimate, load_road_graph())


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
        "growth_mps": incident.growth_mps or WALK_GROWTH_MPS,
    }


# Stored rows of the fixes a track holds: (row id, verdict), the first row first.
_Stored = dict[LocationFix, list[tuple[int, str]]]
_KEPT = (Outcome.ACCEPTED, Outcome.GATED)


def _saved_track(session: Session, *, incident_id: str) -> tuple[LocationTrack, _Stored] | None:
    """The track resumed from its checkpoint, with the rows of the gated fixes it holds."""
    text = session.execute(
        sa.select(location_tracks.c.checkpoint).where(location_tracks.c.incident_id == incident_id)
    ).scalar_one_or_none()
    if text is None:
        return None
    saved = json.loads(text)
    try:
        checkpoint = TrackCheckpoint.from_json(saved["track"])
        track = LocationTrack.resume(checkpoint)
    except ValueError:
        return None  # an older format or filter state: replayed, then saved anew
    rows = zip(checkpoint.pending, saved["pending_rows"], strict=True)
    return track, {fix: [(row, Outcome.GATED.value)] for fix, row in rows}


def _save_track(
    session: Session, incident_id: str, track: LocationTrack, stored: _Stored, *, at: datetime
) -> None:
    checkpoint = track.checkpoint()
    text = json.dumps(
        {
            "track": checkpoint.to_json(),
            # A re-acquisition turns these rows to accepted: the checkpoint says which they are.
            "pending_rows": _rows_of(session, incident_id, checkpoint.pending, stored),
        }
    )
    updated = session.execute(
        location_tracks.update()
        .where(location_tracks.c.incident_id == incident_id)
        .values(checkpoint=text, updated_at=at)
    )
    if updated.rowcount == 0:  # type: ignore[attr-defined]
        session.execute(
            location_tracks.insert().values(incident_id=incident_id, checkpoint=text, updated_at=at)
        )


def _rows_of(
    session: Session, incident_id: str, gated: tuple[LocationFix, ...], stored: _Stored
) -> list[int]:
    """Row ids of gated fixes; those just inserted are looked up (rarely any: RETURNING on the
    batch insert would cost more per fix than this query per batch)."""
    found = {fix: stored[fix][0][0] for fix in gated if fix in stored}
    if len(found) < len(gated):
        rows = session.execute(
            sa.select(location_fixes)
            .where(
                location_fixes.c.incident_id == incident_id,
                location_fixes.c.verdict == Outcome.GATED.value,
                location_fixes.c.observed_at.in_([f.observed_at for f in gated]),
            )
            .order_by(location_fixes.c.id)
        ).mappings()
        for row in rows:
            found.setdefault(LocationFix.from_columns(row), row["id"])
    return [found[fix] for fix in gated]


def _replayed_track(
    session: Session, *, incident_id: str, now: datetime
) -> tuple[LocationTrack, _Stored]:
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
        by_fix.setdefault(LocationFix.from_columns(row), []).append((row["id"], row["verdict"]))
    # Stored fixes are replayed as they were taken in: `now` only guards against the future.
    latest = max((f.observed_at for f in by_fix), default=now)
    return LocationTrack.from_fixes(by_fix, now=max(now, latest)), by_fix


def _insert(
    session: Session,
    incident_id: str,
    considered: list[tuple[LocationFix, FixVerdict]],
    track: LocationTrack,
    received_at: datetime,
) -> None:
    """Stores the batch (in time order) in one insert."""
    # A later fix of the batch may have re-acquired a gated one: it is stored as it ended up.
    final = dict(zip(track.fixes, track.outcomes(), strict=True))
    session.execute(
        location_fixes.insert(),
        [
            _row(
                incident_id,
                fix,
                verdict,
                final[fix] if verdict.outcome in _KEPT else verdict.outcome,
                received_at,
            )
            for fix, verdict in considered
        ],
    )


def _row(
    incident_id: str,
    fix: LocationFix,
    verdict: FixVerdict,
    outcome: Outcome,
    received_at: datetime,
) -> dict[str, Any]:
    return {
        "incident_id": incident_id,
        **fix.columns(),
        "received_at": received_at,
        "verdict": outcome.value,
        "verdict_reason": verdict.reason[:300],
    }


def _in_utc(fix: LocationFix) -> LocationFix:
    """The fix with its time in UTC, as the store gives it back (the track orders by content)."""
    if fix.observed_at.tzinfo is UTC:
        return fix
    return dataclasses.replace(fix, observed_at=fix.observed_at.astimezone(UTC))


def _revise_verdicts(session: Session, track: LocationTrack, rows: _Stored) -> None:
    """New fixes can turn stored verdicts (a re-acquisition revives gated fixes)."""
    for fix, outcome in zip(track.fixes, track.outcomes(), strict=True):
        stored = rows.get(fix)
        if stored and stored[0][1] != outcome.value:
            session.execute(
                location_fixes.update()
                .where(location_fixes.c.id == stored[0][0])
                .values(verdict=outcome.value)
            )
