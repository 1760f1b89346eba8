"""The fused location of one incident as the situation board shows it."""

from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from ansim.domain.errors import InvalidInput
from ansim.domain.fixes import FixMethod

Language = Literal["ko", "en"]

_METHOD_WORDS: dict[FixMethod, tuple[str, str]] = {  # (en, ko)
    FixMethod.GNSS: ("GPS", "GPS"),
    FixMethod.WIFI: ("Wi-Fi", "Wi-Fi"),
    FixMethod.CELL: ("cell", "기지국"),
    FixMethod.AML: ("AML", "AML"),
    FixMethod.MANUAL: ("manual", "수동"),
    FixMethod.UNKNOWN: ("unknown", "미상"),
}
_COMPASS_EN = ("N", "NE", "E", "SE", "S", "SW", "W", "NW")
_COMPASS_KO = ("북", "북동", "동", "남동", "남", "남서", "서", "북서")
_EARTH_RADIUS_M = 6_371_008.8
# Below this the person is described as standing still rather than moving.
_MOVING_SPEED_MPS = 2.0
# How fast the single figure of a region grows between fixes (m/s), stored with the estimate:
# a brisk walk for someone on foot, and for a car the bound the road region's reach uses (60 km/h:
# faster than Seoul's traffic almost always is; docs/location.md, "The single figure").
WALK_GROWTH_MPS = 1.4
VEHICLE_GROWTH_MPS = 16.7
# A track is car-like (road region, vehicle growth) at or above both: the filter's vehicle-mode
# probability, and its speed (without it, scattered fixes of someone standing indoors sometimes
# looked like a car; docs/location.md).
VEHICLE_PROBABILITY = 0.5
VEHICLE_MIN_SPEED_MPS = 4.0


@dataclass(frozen=True, slots=True)
class TrackPoint:
    """One filtered position right after a fix was taken into account."""

    at: datetime
    lat: float
    lon: float
    radius_95_m: float


@dataclass(frozen=True, slots=True)
class MethodContribution:
    """What one positioning method gave the estimate."""

    method: FixMethod
    used: int
    gated: int
    last_radius_m: float


# GeoJSON MultiPolygon coordinates: polygons, each an outer ring then holes, each (lon, lat).
Ring = tuple[tuple[float, float], ...]
Polygons = tuple[tuple[Ring, ...], ...]


@dataclass(frozen=True, slots=True)
class RoadRegion:
    """The 95 % region of a car on roads: the road stretches it can have reached since its last
    fix, buffered, instead of a disc. `matched` are the road positions the fixes were matched to
    (oldest first, (lat, lon)); `reach_m` how far the car may have driven since its last fix."""

    polygons: Polygons
    area_m2: float
    matched: tuple[tuple[float, float], ...]
    reach_m: float
    on_road: tuple[float, float] | None = None  # the reachable road point nearest the filter's
    # Where the car is most likely now, driven on along the matched roads since its last fix.
    predicted: tuple[float, float] | None = None

    @property
    def radius_m(self) -> float:
        """Radius of the circle with the region's area: the single figure boards show."""
        return math.sqrt(self.area_m2 / math.pi)

    def contains(self, lat: float, lon: float) -> bool:
        """True when the position lies inside the region."""
        return inside_polygons(self.polygons, lat, lon)

    @property
    def enclosing_ring(self) -> Ring:
        """One outer ring around the whole region (its convex hull): for consumers that take a
        single simple polygon (PIDF-LO gml:Polygon, EIDO)."""
        points = sorted({p for polygon in self.polygons for p in polygon[0]})
        if len(points) < 3:
            return tuple(points)

        def cross(o: tuple[float, float], a: tuple[float, float], b: tuple[float, float]) -> float:
            return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

        hull: list[tuple[float, float]] = []
        for sweep in (points, points[::-1]):  # Andrew's monotone chain: lower, then upper
            start = len(hull)
            for p in sweep:
                while len(hull) >= start + 2 and cross(hull[-2], hull[-1], p) <= 0:
                    hull.pop()
                hull.append(p)
            hull.pop()
        return (*hull, hull[0])


@dataclass(frozen=True, slots=True)
class Estimate:
    """Best position at `at` with its 95 % ellipse; orientation is of the major axis from north."""

    lat: float
    lon: float
    semi_major_m: float
    semi_minor_m: float
    orientation_deg: float
    radius_95_m: float
    area_m2: float
    at: datetime
    last_fix_at: datetime
    age_s: float
    speed_mps: float
    heading_deg: float
    vehicle_probability: float
    track: tuple[TrackPoint, ...]
    contributions: tuple[MethodContribution, ...]
    floor: int | None = None
    altitude_m: float | None = None
    # A car matched to roads: the region replaces the ellipse as the 95 % region, and
    # radius_95_m / area_m2 are the region's (the ellipse stays as free movement's region).
    region: RoadRegion | None = None

    def on_roads(
        self, region: RoadRegion, *, snap: bool = False, predict: bool = False
    ) -> Estimate:
        """This estimate with a road-shaped region as its 95 % region and, with `predict`, its
        position where the car drove on along the roads (with `snap`, on the nearest reachable
        road)."""
        lat, lon = self.lat, self.lon
        if predict and region.predicted:
            lat, lon = region.predicted
        elif snap and region.on_road:
            lat, lon = region.on_road
        return dataclasses.replace(
            self,
            lat=lat,
            lon=lon,
            region=region,
            radius_95_m=region.radius_m,
            area_m2=region.area_m2,
        )

    @property
    def car_like(self) -> bool:
        """The filter thinks the track is a vehicle on the move (or it was matched to roads)."""
        return self.region is not None or (
            self.vehicle_probability >= VEHICLE_PROBABILITY
            and self.speed_mps >= VEHICLE_MIN_SPEED_MPS
        )

    @property
    def growth_mps(self) -> float:
        """How fast the single figure grows after `at` when no fix comes: the vehicle bound for a
        car-like track, walking pace otherwise."""
        return VEHICLE_GROWTH_MPS if self.car_like else WALK_GROWTH_MPS

    @property
    def main_method(self) -> FixMethod:
        """The method that gave most fixes, the more accurate one on a tie."""
        best = max(self.contributions, key=lambda c: (c.used, -c.last_radius_m))
        return best.method

    def outline(self, points: int = 48) -> tuple[tuple[float, float], ...]:
        """The 95 % ellipse as a closed ring of (lat, lon), for maps and PIDF-LO polygons."""
        bearing = math.radians(self.orientation_deg)
        m_per_deg_lat = math.radians(1.0) * _EARTH_RADIUS_M
        m_per_deg_lon = m_per_deg_lat * math.cos(math.radians(self.lat))
        ring = []
        for k in range(points + 1):
            t = 2.0 * math.pi * k / points
            along, across = self.semi_major_m * math.cos(t), self.semi_minor_m * math.sin(t)
            east = along * math.sin(bearing) + across * math.cos(bearing)
            north = along * math.cos(bearing) - across * math.sin(bearing)
            ring.append((self.lat + north / m_per_deg_lat, self.lon + east / m_per_deg_lon))
        return tuple(ring)

    def describe(self, lang: Language, now: datetime) -> str:
        """Dispatcher's words, e.g. 'Wi-Fi ±40 m, 12 s ago (Wi-Fi 9, GPS 2)'."""
        if lang not in ("ko", "en"):
            raise InvalidInput(f"language must be 'ko' or 'en', got {lang!r}")
        ko = lang == "ko"
        age = max(0.0, (now - self.last_fix_at).total_seconds())
        used = sorted(
            (c for c in self.contributions if c.used), key=lambda c: (-c.used, c.last_radius_m)
        )
        mix = ", ".join(f"{_method_word(c.method, ko)} {c.used}{'건' if ko else ''}" for c in used)
        text = f"{_method_word(self.main_method, ko)} ±{_distance(self.radius_95_m)}, "
        text += f"{_age(age, ko)} ({mix})"
        if self.speed_mps >= _MOVING_SPEED_MPS and self.vehicle_probability >= 0.5:
            kmh = round(self.speed_mps * 3.6)
            sector = int(((self.heading_deg + 22.5) % 360) // 45)
            if ko:
                text += f", {_COMPASS_KO[sector]}쪽으로 시속 약 {kmh} km 이동 중 (차량 추정)"
            else:
                text += f", moving {_COMPASS_EN[sector]} at about {kmh} km/h (likely in a vehicle)"
        if self.floor is not None:
            text += f", {self.floor}층" if ko else f", floor {self.floor}"
        return text


def inside_polygons(polygons: Polygons, lat: float, lon: float) -> bool:
    """Even-odd rule over every ring: inside an outer ring and not in one of its holes."""
    inside = False
    for polygon in polygons:
        for ring in polygon:
            for (x1, y1), (x2, y2) in itertools.pairwise(ring):
                if (y1 > lat) != (y2 > lat) and lon < x1 + (lat - y1) * (x2 - x1) / (y2 - y1):
                    inside = not inside
    return inside


def _method_word(method: FixMethod, ko: bool) -> str:
    en, kor = _METHOD_WORDS[method]
    return kor if ko else en


def _distance(metres: float) -> str:
    if metres < 100:
        return f"{max(5, round(metres / 5) * 5)} m"
    if metres < 1000:
        return f"{round(metres / 10) * 10} m"
    return f"{metres / 1000:.1f} km"


def _age(seconds: float, ko: bool) -> str:
    s = round(seconds)
    if s < 60:
        return f"{s}초 전" if ko else f"{s} s ago"
    m = s // 60
    if m < 60:
        return f"{m}분 전" if ko else f"{m} min ago"
    h, m = divmod(m, 60)
    return f"{h}시간 {m}분 전" if ko else f"{h} h {m} min ago"


def ellipse_95(cov_en: tuple[float, float, float]) -> tuple[float, float, float]:
    """(semi-major m, semi-minor m, orientation deg from north) of the 95 % ellipse.

    `cov_en` is (var east, cov east-north, var north) in m².
    """
    vee, ven, vnn = cov_en
    mid = 0.5 * (vee + vnn)
    half = math.hypot(0.5 * (vee - vnn), ven)
    scale = -2.0 * math.log(0.05)  # chi-square with 2 degrees of freedom at 95 %
    major = math.sqrt(max(mid + half, 0.0) * scale)
    minor = math.sqrt(max(mid - half, 0.0) * scale)
    # Angle of the major axis measured from east toward north, then turned into a bearing.
    theta = 0.5 * math.atan2(2.0 * ven, vee - vnn)
    bearing = (90.0 - math.degrees(theta)) % 180.0
    return major, minor, bearing
