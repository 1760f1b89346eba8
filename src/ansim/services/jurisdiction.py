"""Which police station answers for a place: the nearest 경찰서 in the 자치구 holding it.

An approximation: Seoul's police station areas (관할구역) follow 자치구 lines closely but not
exactly (several gu have two stations, e.g. 강남구: 강남·수서), and ansim ships no station-area
polygons. So the station is the nearest police station inside the same district; outside every
district polygon (or where a district has no station) it is the nearest station of all.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ansim.domain.units import Station, StationKind
from ansim.geo.demo_data import District, district_at
from ansim.services.ranking import haversine_m
from ansim.store.tables import stations

APPROXIMATION = "nearest police station in the same district (자치구); station areas approximated"


@dataclass(frozen=True)
class Jurisdiction:
    station: Station | None
    district_ko: str | None
    district_en: str | None
    distance_m: float | None
    basis: str


def responsible_station(session: Session, *, lat: float, lon: float) -> Jurisdiction:
    """The station responsible for (lat, lon) and how it was decided."""
    district = district_at(lat, lon)
    everyone = list(session.execute(sa.select(Station).order_by(stations.c.name)).scalars())
    police = [s for s in everyone if s.kind == StationKind.POLICE_STATION] or everyone
    local = [s for s in police if district is not None and s.district == district.name_ko]
    basis = APPROXIMATION
    if not local:
        local = police
        basis = "nearest police station (no station in a district holding this place)"
    if not local:
        return Jurisdiction(None, _ko(district), _en(district), None, "no stations registered")
    nearest = min(local, key=lambda s: haversine_m(s.lat, s.lon, lat, lon))
    distance = haversine_m(nearest.lat, nearest.lon, lat, lon)
    return Jurisdiction(nearest, _ko(district), _en(district), distance, basis)


def _ko(district: District | None) -> str | None:
    return district.name_ko if district else None


def _en(district: District | None) -> str | None:
    return district.name_en if district else None
