"""Where an estimate is, in words a dispatcher or an officer reads at a glance, offline.

From the bundled data only: the street (OSM road names of the drive network), the 법정동
(boundary data) and the nearest landmark — an elementary school or a police facility — with
its distance and the direction from it, e.g. "세종대로, 태평로1가, 덕수초등학교 북쪽 80 m" /
"세종대로, Taepyeongno 1(il)-ga, 80 m N of 덕수초등학교". Street and landmark names are Korean
in both languages (the data has no English names for them); the 동 has its English name.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from ansim.domain.fixes import check_position
from ansim.geo.demo_data import dong_at, load_police_facilities, load_road_graph, load_schools
from ansim.geo.roads import OffNetwork

EARTH_RADIUS_M = 6_371_008.8
# A street farther than this is not "the" street of the place.
STREET_WITHIN_M = 60.0
# A landmark farther than this helps nobody find the place.
LANDMARK_WITHIN_M = 1500.0

_DIRECTIONS_KO = ("북", "북동", "동", "남동", "남", "남서", "서", "북서")
_DIRECTIONS_EN = ("N", "NE", "E", "SE", "S", "SW", "W", "NW")


@dataclass(frozen=True, slots=True)
class Landmark:
    name: str
    kind: str  # school, police
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class Place:
    """A described position: any part can be missing (off the bundled area)."""

    street: str | None
    dong_ko: str | None
    dong_en: str | None
    landmark: str | None
    landmark_distance_m: float | None
    direction_index: int | None  # 0 = north of the landmark, clockwise in eighths

    def text(self, language: str) -> str:
        """One line in Korean ("ko") or English ("en"); empty when nothing is known."""
        parts = [self.street] if self.street else []
        dong = self.dong_ko if language == "ko" else self.dong_en or self.dong_ko
        if dong:
            parts.append(dong)
        if self.landmark and self.landmark_distance_m is not None:
            metres = _rounded_m(self.landmark_distance_m)
            if metres < 20 or self.direction_index is None:
                parts.append(f"{self.landmark} 앞" if language == "ko" else f"at {self.landmark}")
            elif language == "ko":
                parts.append(f"{self.landmark} {_DIRECTIONS_KO[self.direction_index]}쪽 {metres} m")
            else:
                parts.append(
                    f"{metres} m {_DIRECTIONS_EN[self.direction_index]} of {self.landmark}"
                )
        return ", ".join(parts)


def describe_place(lat: float, lon: float) -> Place:
    """The street, 동 and nearest landmark of a position (positions ~1 m apart share a result)."""
    check_position(lat, lon)
    return _describe(round(lat, 5), round(lon, 5))


@functools.lru_cache(maxsize=4096)
def _describe(lat: float, lon: float) -> Place:
    street = _street(lat, lon)
    dong = dong_at(lat, lon)
    landmark, distance, direction = _nearest_landmark(lat, lon)
    return Place(
        street=street,
        dong_ko=dong.name_ko if dong else None,
        dong_en=dong.name_en if dong else None,
        landmark=landmark.name if landmark else None,
        landmark_distance_m=distance,
        direction_index=direction,
    )


def _street(lat: float, lon: float) -> str | None:
    graph = load_road_graph()
    try:
        snap = graph.snap(lat, lon, max_distance_m=STREET_WITHIN_M)
    except OffNetwork:
        return None
    return graph.edge_name[snap.edge] or None


@functools.cache
def _landmarks() -> tuple[tuple[Landmark, ...], np.ndarray, np.ndarray]:
    marks = [Landmark(s.name, "school", s.lat, s.lon) for s in load_schools()]
    marks += [Landmark(p.name, "police", p.lat, p.lon) for p in load_police_facilities()]
    lats = np.array([m.lat for m in marks])
    lons = np.array([m.lon for m in marks])
    return tuple(marks), lats, lons


def _nearest_landmark(lat: float, lon: float) -> tuple[Landmark | None, float | None, int | None]:
    marks, lats, lons = _landmarks()
    north = np.radians(lat - lats) * EARTH_RADIUS_M
    east = np.radians(lon - lons) * EARTH_RADIUS_M * math.cos(math.radians(lat))
    distances = np.hypot(east, north)
    best = int(np.argmin(distances))
    distance = float(distances[best])
    if distance > LANDMARK_WITHIN_M:
        return None, None, None
    # Direction of the place as seen from the landmark.
    bearing = math.degrees(math.atan2(float(east[best]), float(north[best]))) % 360.0
    return marks[best], distance, int(((bearing + 22.5) % 360.0) // 45.0)


def _rounded_m(metres: float) -> int:
    """10 m steps below 1 km: finer would pretend a precision no estimate has."""
    return int(round(metres / 10.0) * 10)
