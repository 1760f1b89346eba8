"""One unit or one station edited in place (admins), each change an audited command.

Edits change the row, never replace it: incidents, assignments, status history and officer
accounts keep pointing at the same unit id, and the timeline keeps the call sign a unit had when
it was ordered. A call sign another unit holds is refused, a retired unit's too (as the CSV import
does: a radio call must name one unit in the records), and a retired unit or station is not edited
(its record stays as it was).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ansim.cctv.access import check_district
from ansim.domain.errors import Conflict, InvalidInput, NotFound
from ansim.domain.units import Station, StationKind, Unit, UnitKind
from ansim.security import audit
from ansim.services import dispatch
from ansim.services.fleet import record_change, station_by_name, station_kind, unit_by_call_sign
from ansim.services.platform import Platform, transaction
from ansim.store import outbox
from ansim.store.tables import stations, units

CALL_SIGN_MAX = 50
STATION_NAME_MAX = 100


@dataclass(frozen=True)
class UnitChange:
    """What to change on a unit; None leaves a field as it is."""

    call_sign: str | None = None
    kind: UnitKind | None = None
    station: str | None = None  # a station name, "강남구 신사파출소" where two share it


@dataclass(frozen=True)
class StationChange:
    """What to change on a station; None leaves a field as it is (lat and lon go together)."""

    name: str | None = None
    kind: StationKind | None = None
    lat: float | None = None
    lon: float | None = None
    district: str | None = None


def _changed(before: Any, after: Any, name: str, changes: dict[str, object]) -> None:
    if after is not None and after != before:
        changes[name] = {"from": before, "to": after}


def _new_call_sign(session: Session, unit: Unit, wanted: str | None) -> str | None:
    if wanted is None:
        return None
    call_sign = wanted.strip()
    if not call_sign or len(call_sign) > CALL_SIGN_MAX:
        raise InvalidInput(f"a call sign has 1-{CALL_SIGN_MAX} characters")
    holder = session.execute(
        sa.select(units.c.id, units.c.retired_at).where(units.c.call_sign == call_sign)
    ).one_or_none()
    if holder is not None and holder.id != unit.id:
        whose = "a retired unit's" if holder.retired_at is not None else "another unit's"
        raise Conflict(f"call sign {call_sign} is {whose}; one call sign names one unit")
    return call_sign


def _new_station(session: Session, wanted: str | None) -> Station | None:
    if wanted is None:
        return None
    station = station_by_name(session, name=wanted)
    if station is None:
        raise InvalidInput(f"no station {wanted.strip()!r}")
    if station.retired_at is not None:
        raise Conflict(f"station {station.name} is retired: it takes no units")
    return station


def do_edit_unit(
    platform: Platform,
    *,
    call_sign: str,
    change: UnitChange,
    actor: str | audit.Actor,
    session: Session | None = None,
) -> Unit:
    """Changes a unit's call sign, kind or station; the board hears `unit.changed`."""
    at = platform.now()
    with transaction(platform, session) as tx:
        found = unit_by_call_sign(tx, call_sign=call_sign)
        # Under the unit's lock: its status and events are written under the same one.
        unit = dispatch.get_unit(tx, unit_id=found.id, for_update=True)
        if unit.retired_at is not None:
            raise Conflict(f"unit {unit.call_sign} is retired; its record stays as it was")
        new_sign = _new_call_sign(tx, unit, change.call_sign)
        station = _new_station(tx, change.station)
        changes: dict[str, object] = {}
        _changed(unit.call_sign, new_sign, "call_sign", changes)
        _changed(unit.kind, change.kind.value if change.kind else None, "kind", changes)
        if station is not None and station.id != unit.station_id:
            # Names in the audit entry (an id says nothing to a reader); the ids are in the rows.
            home = tx.get(Station, unit.station_id)
            before = f"{home.district} {home.name}" if home else unit.station_id
            changes["station"] = {"from": before, "to": f"{station.district} {station.name}"}
        if not changes:
            return unit
        previous = unit.call_sign
        unit.call_sign = new_sign or unit.call_sign
        unit.kind = change.kind.value if change.kind else unit.kind
        unit.station_id = station.id if station else unit.station_id
        tx.flush()
        outbox.emit(
            tx,
            "unit.changed",
            {
                "unit_id": unit.id,
                "call_sign": unit.call_sign,
                "previous_call_sign": previous,
                "kind": unit.kind,
                "station_id": unit.station_id,
            },
            at=at,
            unit_id=unit.id,
        )
        record_change(
            tx,
            actor,
            platform,
            "fleet.edit_unit",
            f"unit:{unit.id}",
            {"call_sign": unit.call_sign, "changes": changes},
        )
        return unit


def _position(lat: float | None, lon: float | None) -> tuple[float, float] | None:
    if lat is None and lon is None:
        return None
    if lat is None or lon is None:
        raise InvalidInput("a position needs both lat and lon")
    # Stations of a Korean police center: outside Korea is a swapped or mistyped pair.
    if not (33.0 <= lat <= 39.0 and 124.0 <= lon <= 132.0):
        raise InvalidInput(
            f"position {lat},{lon} is outside Korea (latitude and longitude swapped?)"
        )
    return round(lat, 7), round(lon, 7)


def _new_name(wanted: str | None) -> str | None:
    if wanted is None:
        return None
    name = wanted.strip()
    if not name or len(name) > STATION_NAME_MAX:
        raise InvalidInput(f"a station name has 1-{STATION_NAME_MAX} characters")
    return name


def do_edit_station(
    platform: Platform,
    *,
    name: str,
    change: StationChange,
    actor: str | audit.Actor,
    session: Session | None = None,
) -> Station:
    """Changes a station's name, kind, position or district; its units stay where they are."""
    with transaction(platform, session) as tx:
        station = station_by_name(tx, name=name)
        if station is None:
            raise NotFound(f"no station {name.strip()}")
        if station.retired_at is not None:
            raise Conflict(f"station {station.name} is retired; its record stays as it was")
        new_name = _new_name(change.name)
        district = check_district(change.district) if change.district is not None else None
        position = _position(change.lat, change.lon)
        # A renamed station whose name says another kind (파출소 → 지구대) takes that kind.
        kind = change.kind or (station_kind(new_name) if new_name else None)
        target_name, target_district = new_name or station.name, district or station.district
        clash = tx.execute(
            sa.select(stations.c.id).where(
                stations.c.name == target_name,
                stations.c.district == target_district,
                stations.c.id != station.id,
            )
        ).first()
        if clash is not None:
            raise Conflict(f"{target_district} already has a station named {target_name}")
        changes: dict[str, object] = {}
        _changed(station.name, new_name, "name", changes)
        _changed(station.kind.value, kind.value if kind else None, "kind", changes)
        _changed(station.district, district, "district", changes)
        _changed(
            [station.lat, station.lon], list(position) if position else None, "position", changes
        )
        if not changes:
            return station
        station.name, station.district = target_name, target_district
        station.kind = kind or station.kind
        if position is not None:
            station.lat, station.lon = position
        tx.flush()
        record_change(
            tx,
            actor,
            platform,
            "fleet.edit_station",
            f"station:{station.id}",
            {"name": station.name, "changes": changes},
        )
        return station


@dataclass(frozen=True)
class UnitRow:
    id: str
    call_sign: str
    kind: str
    station_id: str
    station: str
    district: str
    status: str
    retired_at: datetime | None


@dataclass(frozen=True)
class StationRow:
    id: str
    name: str
    kind: str
    lat: float
    lon: float
    district: str
    units: int  # units not retired
    retired_at: datetime | None


def list_units(session: Session, *, unit_id: str | None = None) -> list[UnitRow]:
    """Every unit (or the one `unit_id`) with its station, retired ones last (the admin list)."""
    query = sa.select(
        units.c.id,
        units.c.call_sign,
        units.c.kind,
        units.c.station_id,
        stations.c.name.label("station"),
        stations.c.district,
        units.c.status,
        units.c.retired_at,
    ).join(stations, stations.c.id == units.c.station_id)
    if unit_id is not None:
        query = query.where(units.c.id == unit_id)
    rows = session.execute(query.order_by(units.c.retired_at.is_not(None), units.c.call_sign))
    return [UnitRow(**row._mapping) for row in rows]


def list_stations(session: Session, *, station_id: str | None = None) -> list[StationRow]:
    """Every station (or the one `station_id`) with its units not retired, retired ones last."""
    active = (
        sa.select(units.c.station_id, sa.func.count().label("units"))
        .where(units.c.retired_at.is_(None))
        .group_by(units.c.station_id)
        .subquery()
    )
    query = sa.select(
        stations.c.id,
        stations.c.name,
        stations.c.kind,
        stations.c.lat,
        stations.c.lon,
        stations.c.district,
        sa.func.coalesce(active.c.units, 0).label("units"),
        stations.c.retired_at,
    ).outerjoin(active, active.c.station_id == stations.c.id)
    if station_id is not None:
        query = query.where(stations.c.id == station_id)
    order = (stations.c.retired_at.is_not(None), stations.c.district, stations.c.name)
    return [StationRow(**row._mapping) for row in session.execute(query.order_by(*order))]
