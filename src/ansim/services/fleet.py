"""Stations and units of the center: CSV imports, edits and retirement, each an audited command.

Stations come from the public police facility lists (../shared/data/police): the geocoded layout
(자치구,관서명,경도,위도,행정동) is taken directly; the official address layout (…,관서명,구분,…,경찰_주소)
has no coordinates and there is no offline geocoder, so its rows only update stations already known
by name and every other row is rejected with that reason. Imports are idempotent (stations are
matched by name, units by call sign) and report every rejected row.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ansim.domain.errors import Conflict, InvalidInput, NotFound
from ansim.domain.units import Station, StationKind, Unit, UnitKind, UnitStatus
from ansim.security import audit
from ansim.services.platform import Platform, transaction
from ansim.store.tables import stations, units

Progress = Callable[[int, int], None]
# Korean police names end in their kind; the list also holds HQ and river patrol rows we do not keep.
_KIND_SUFFIX = (
    ("경찰서", StationKind.POLICE_STATION),
    ("지구대", StationKind.DISTRICT_UNIT),
    ("파출소", StationKind.POLICE_BOX),
)
# Rows filed under "수서구" are 수서경찰서 units, which stand in 강남구 (see shared/data/police).
_DISTRICT_FIXES = {"수서구": "강남구"}
UNITS_HEADER = ["call_sign", "station", "kind"]


@dataclass(frozen=True)
class Rejected:
    line: int
    reason: str
    text: str


@dataclass
class ImportReport:
    source: str
    layout: str
    read: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[Rejected] = field(default_factory=list)

    def summary(self) -> dict[str, object]:
        return {
            "source": self.source,
            "layout": self.layout,
            "read": self.read,
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": len(self.rejected),
        }


def unit_by_call_sign(session: Session, *, call_sign: str) -> Unit:
    found = session.execute(
        sa.select(Unit).where(units.c.call_sign == call_sign.strip())
    ).scalar_one_or_none()
    if found is None:
        raise NotFound(f"no unit {call_sign}")
    return found


def station_by_name(session: Session, *, name: str, district: str | None = None) -> Station | None:
    """The station of this name (in `district` when given: two 신사 stations stand in two 구).

    `name` may also be written "강남구 신사파출소". Raises InvalidInput when the name is ambiguous.
    """
    name = name.strip()
    first, _, rest = name.partition(" ")
    if district is None and rest and first.endswith("구"):
        district, name = first, rest.strip()
    query = sa.select(Station).where(stations.c.name == name)
    if district is not None:
        query = query.where(stations.c.district == district)
    found = list(session.execute(query).scalars())
    if len(found) > 1:
        places = ", ".join(f"{s.district} {s.name}" for s in found)
        raise InvalidInput(f"{name} is ambiguous ({places}): write the district first")
    return found[0] if found else None


def station_kind(name: str) -> StationKind | None:
    return next((kind for suffix, kind in _KIND_SUFFIX if name.endswith(suffix)), None)


def _rows(text: str) -> tuple[list[str], list[tuple[int, dict[str, str], str]]]:
    lines = text.lstrip("\ufeff").splitlines()
    reader = csv.DictReader(io.StringIO("\n".join(lines)))
    header = [h.strip() for h in reader.fieldnames or []]
    reader.fieldnames = header
    rows = [
        (
            reader.line_num,
            {k: (v or "").strip() for k, v in row.items() if k},
            lines[reader.line_num - 1],
        )
        for row in reader
    ]
    return header, rows


def _row_key(row: dict[str, str], layout: str) -> str:
    """District and name: two stations of one name stand in two 구 (강남구 and 관악구 신사)."""
    if layout == "address":
        return f"{_district_of_address(row.get('경찰_주소', ''))} {row.get('관서명', '')}{row.get('구분', '')}"
    if layout == "geocoded":
        return f"{row.get('자치구', '')} {row.get('관서명', '')}"
    return f"{row.get('district', '')} {row.get('name', '')}"


def _station_layout(header: list[str]) -> str:
    names = set(header)
    if {"관서명", "경도", "위도"} <= names:
        return "geocoded"
    if {"관서명", "구분", "경찰_주소"} <= names:
        return "address"
    if {"name", "lat", "lon"} <= names:
        return "ansim"
    raise InvalidInput(
        "unknown station file layout: expected the geocoded police list (자치구,관서명,경도,위도,…), "
        "the official address list (…,관서명,구분,…,경찰_주소) or name,kind,lat,lon,district"
    )


def _district_of_address(address: str) -> str:
    parts = address.split()
    return parts[1] if len(parts) > 1 and parts[1].endswith("구") else ""


def _position(lat_text: str, lon_text: str) -> tuple[float, float]:
    try:
        lat, lon = float(lat_text), float(lon_text)
    except ValueError:
        raise InvalidInput(f"coordinates {lat_text!r},{lon_text!r} are not numbers") from None
    # The file is a Korean police list: a position outside Korea is a swapped or broken row.
    if not (33.0 <= lat <= 39.0 and 124.0 <= lon <= 132.0):
        raise InvalidInput(
            f"position {lat},{lon} is outside Korea (latitude and longitude swapped?)"
        )
    return lat, lon


def _apply_station(
    session: Session,
    report: ImportReport,
    *,
    name: str,
    kind: StationKind,
    lat: float,
    lon: float,
    district: str,
) -> None:
    known = station_by_name(session, name=name, district=district)
    if known is None:
        session.add(
            Station(id=str(uuid.uuid4()), name=name, kind=kind, lat=lat, lon=lon, district=district)
        )
        report.added += 1
        return
    wanted = {"kind": kind, "lat": round(lat, 7), "lon": round(lon, 7), "district": district}
    if all(getattr(known, k) == v for k, v in wanted.items()):
        report.unchanged += 1
        return
    for k, v in wanted.items():
        setattr(known, k, v)
    report.updated += 1


def _import_station_row(
    session: Session, report: ImportReport, layout: str, row: dict[str, str]
) -> None:
    if layout == "address":
        name = row.get("관서명", "") + row.get("구분", "")
        district = _district_of_address(row.get("경찰_주소", ""))
        if station_by_name(session, name=name, district=district or None) is None:
            raise InvalidInput(
                f"{district} {name}: this layout has addresses only and no station of that name "
                "is known there (import the geocoded list first, or add it with lat/lon; there is "
                "no offline geocoder)"
            )
        # Matched by name and district: nothing else in this layout is ours to keep.
        report.unchanged += 1
        return
    if layout == "geocoded":
        name, district = row.get("관서명", ""), row.get("자치구", "")
        lat, lon = _position(row.get("위도", ""), row.get("경도", ""))  # the file puts lon first
        kind = station_kind(name)
    else:
        name, district = row.get("name", ""), row.get("district", "")
        lat, lon = _position(row.get("lat", ""), row.get("lon", ""))
        try:
            kind = StationKind(row["kind"]) if row.get("kind") else station_kind(name)
        except ValueError:
            raise InvalidInput(
                f"kind {row.get('kind')!r} is not one of {', '.join(StationKind)}"
            ) from None
    if not name:
        raise InvalidInput("the station has no name")
    if kind is None:
        raise InvalidInput(
            f"{name}: not a 경찰서, 지구대 or 파출소 (HQ and river patrol rows are not stations)"
        )
    district = _DISTRICT_FIXES.get(district, district)
    _apply_station(session, report, name=name, kind=kind, lat=lat, lon=lon, district=district)


def do_import_stations(
    platform: Platform,
    *,
    text: str,
    source: str,
    actor: str | audit.Actor,
    progress: Progress | None = None,
    session: Session | None = None,
) -> ImportReport:
    """Adds or updates the stations of a police facility CSV; one transaction, one audit entry."""
    header, rows = _rows(text)
    report = ImportReport(source=source, layout=_station_layout(header))
    seen: dict[str, int] = {}

    def apply(tx: Session, line: int, row: dict[str, str]) -> None:
        name = _row_key(row, report.layout)
        if name in seen:
            # Taking both would flip the station between them on every re-import.
            raise InvalidInput(f"{name} appears again (first on line {seen[name]}); kept the first")
        seen[name] = line
        # Each row is checked before it writes, so a rejected row leaves nothing behind.
        _import_station_row(tx, report, report.layout, row)

    return _run_import(
        platform, session, report, rows, apply, "fleet.import_stations", actor, progress
    )


def do_import_units(
    platform: Platform,
    *,
    text: str,
    source: str,
    actor: str | audit.Actor,
    progress: Progress | None = None,
    session: Session | None = None,
) -> ImportReport:
    """Adds or updates units from `call_sign,station,kind` rows (kind: patrol_car or foot).

    A new unit starts available at its station's position, so it can be ranked at once.
    """
    header, rows = _rows(text)
    if [h.lower() for h in header[:3]] != UNITS_HEADER:
        raise InvalidInput(f"a unit file starts with the header {','.join(UNITS_HEADER)}")
    report = ImportReport(source=source, layout="units")
    at = platform.now()
    return _run_import(
        platform,
        session,
        report,
        rows,
        lambda tx, _line, row: _import_unit_row(tx, report, row, at=at),
        "fleet.import_units",
        actor,
        progress,
    )


def _run_import(
    platform: Platform,
    session: Session | None,
    report: ImportReport,
    rows: list[tuple[int, dict[str, str], str]],
    apply: Callable[[Session, int, dict[str, str]], None],
    action: str,
    actor: str | audit.Actor,
    progress: Progress | None,
) -> ImportReport:
    """Applies each row in one transaction; a row `apply` refuses (InvalidInput) goes to the
    report's rejected rows; one audit entry for the whole file."""
    with transaction(platform, session) as tx:
        for done, (line, row, raw) in enumerate(rows, start=1):
            report.read += 1
            try:
                apply(tx, line, row)
            except InvalidInput as error:
                report.rejected.append(Rejected(line, str(error), raw))
            if progress is not None:
                progress(done, len(rows))
        record_change(tx, actor, platform, action, report.source, report.summary())
    return report


def _import_unit_row(
    session: Session, report: ImportReport, row: dict[str, str], *, at: datetime
) -> None:
    call_sign, station_name = row.get("call_sign", ""), row.get("station", "")
    if not call_sign or len(call_sign) > 50:
        raise InvalidInput("a call sign has 1-50 characters")
    try:
        kind = UnitKind(row.get("kind") or UnitKind.PATROL_CAR.value)
    except ValueError:
        raise InvalidInput(f"kind {row.get('kind')!r} is not patrol_car or foot") from None
    station = station_by_name(session, name=station_name)
    if station is None:
        raise InvalidInput(f"no station {station_name!r} (import the stations first)")
    if station.retired_at is not None:
        raise InvalidInput(f"station {station_name} is retired")
    existing = session.execute(
        sa.select(Unit).where(units.c.call_sign == call_sign)
    ).scalar_one_or_none()
    if existing is None:
        session.add(
            Unit(
                id=str(uuid.uuid4()),
                call_sign=call_sign,
                station_id=station.id,
                status=UnitStatus.AVAILABLE,
                status_at=at,
                lat=station.lat,
                lon=station.lon,
                position_at=at,
                kind=kind.value,
            )
        )
        report.added += 1
        return
    if existing.retired_at is not None:
        raise InvalidInput(f"unit {call_sign} is retired; a retired call sign is not reused")
    if existing.station_id == station.id and existing.kind == kind.value:
        report.unchanged += 1
        return
    existing.station_id, existing.kind = station.id, kind.value
    report.updated += 1


def do_retire_unit(
    platform: Platform, *, call_sign: str, actor: str | audit.Actor, session: Session | None = None
) -> Unit:
    """Takes a unit off duty for good; its assignments and history stay."""
    at = platform.now()
    with transaction(platform, session) as tx:
        unit = unit_by_call_sign(tx, call_sign=call_sign)
        if unit.retired_at is not None:
            return unit
        if unit.status not in (UnitStatus.AVAILABLE, UnitStatus.BUSY, UnitStatus.OFF_DUTY):
            raise Conflict(f"unit {call_sign} is {unit.status}: clear its assignment first")
        unit.move_to(UnitStatus.OFF_DUTY, at=at)
        unit.retired_at = at
        tx.flush()
        record_change(tx, actor, platform, "fleet.retire_unit", f"unit:{call_sign}", {})
        return unit


def do_retire_station(
    platform: Platform, *, name: str, actor: str | audit.Actor, session: Session | None = None
) -> Station:
    """Retires a station with no active units left; its rows and history stay."""
    at = platform.now()
    with transaction(platform, session) as tx:
        station = station_by_name(tx, name=name)
        if station is None:
            raise NotFound(f"no station {name}")
        active = tx.execute(
            sa.select(sa.func.count())
            .select_from(units)
            .where(units.c.station_id == station.id, units.c.retired_at.is_(None))
        ).scalar_one()
        if active:
            raise Conflict(f"{name} still has {active} unit(s): move or retire them first")
        station.retired_at = station.retired_at or at
        tx.flush()
        record_change(tx, actor, platform, "fleet.retire_station", f"station:{name}", {})
        return station


def record_change(
    session: Session,
    actor: str | audit.Actor,
    platform: Platform,
    action: str,
    subject: str,
    detail: dict[str, object],
) -> None:
    """The audit entry of a fleet command, in its transaction (a plain name is an admin's)."""
    who = actor if isinstance(actor, audit.Actor) else audit.Actor(name=actor, role="admin")
    audit.record(
        session, actor=who, action=action, at=platform.now(), subject=subject[:200], detail=detail
    )
