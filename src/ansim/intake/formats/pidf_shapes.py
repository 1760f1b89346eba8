"""PIDF-LO geodetic shapes (RFC 5491) and their smallest enclosing circle on the ground."""

from __future__ import annotations

import math
from dataclasses import dataclass

EARTH_RADIUS_M = 6_371_008.8


def _offset_m(lat0: float, lon0: float, lat: float, lon: float) -> tuple[float, float]:
    """East/north metres from (lat0, lon0); a local flat approximation, fine below ~100 km."""
    east = math.radians(lon - lon0) * EARTH_RADIUS_M * math.cos(math.radians(lat0))
    north = math.radians(lat - lat0) * EARTH_RADIUS_M
    return east, north


def _distance_m(lat0: float, lon0: float, lat: float, lon: float) -> float:
    return math.hypot(*_offset_m(lat0, lon0, lat, lon))


def _destination(
    lat: float, lon: float, bearing_deg: float, distance_m: float
) -> tuple[float, float]:
    north = distance_m * math.cos(math.radians(bearing_deg))
    east = distance_m * math.sin(math.radians(bearing_deg))
    new_lat = lat + math.degrees(north / EARTH_RADIUS_M)
    new_lon = lon + math.degrees(east / (EARTH_RADIUS_M * math.cos(math.radians(lat))))
    return new_lat, new_lon


def _ring_extent(ring: tuple[tuple[float, float], ...]) -> tuple[float, float, float]:
    """Area centroid of a closed ring and the distance to its farthest vertex."""
    vertices = ring[:-1] if len(ring) > 1 and ring[0] == ring[-1] else ring
    lat0, lon0 = vertices[0]
    points = [_offset_m(lat0, lon0, lat, lon) for lat, lon in vertices]
    area = cx = cy = 0.0
    for (x1, y1), (x2, y2) in zip(points, points[1:] + points[:1], strict=True):
        cross = x1 * y2 - x2 * y1
        area += cross
        cx += (x1 + x2) * cross
        cy += (y1 + y2) * cross
    if abs(area) < 1e-9:
        cx = sum(x for x, _ in points) / len(points)
        cy = sum(y for _, y in points) / len(points)
    else:
        cx, cy = cx / (3 * area), cy / (3 * area)
    lat = lat0 + math.degrees(cy / EARTH_RADIUS_M)
    lon = lon0 + math.degrees(cx / (EARTH_RADIUS_M * math.cos(math.radians(lat0))))
    radius = max(_distance_m(lat, lon, vlat, vlon) for vlat, vlon in vertices)
    return lat, lon, radius


@dataclass(frozen=True, slots=True)
class Point:
    lat: float
    lon: float
    alt_m: float | None = None

    def extent(self) -> tuple[float, float, float]:
        """Centre and radius (m) of the smallest circle we report for the shape."""
        return self.lat, self.lon, 0.0


@dataclass(frozen=True, slots=True)
class Circle:
    lat: float
    lon: float
    radius_m: float

    def extent(self) -> tuple[float, float, float]:
        """Centre and radius (m) of the smallest circle we report for the shape."""
        return self.lat, self.lon, self.radius_m


@dataclass(frozen=True, slots=True)
class Ellipse:
    lat: float
    lon: float
    semi_major_m: float
    semi_minor_m: float
    orientation_deg: float

    def extent(self) -> tuple[float, float, float]:
        """Centre and radius (m) of the smallest circle we report for the shape."""
        return self.lat, self.lon, self.semi_major_m


@dataclass(frozen=True, slots=True)
class ArcBand:
    lat: float
    lon: float
    inner_radius_m: float
    outer_radius_m: float
    start_angle_deg: float
    opening_angle_deg: float

    def extent(self) -> tuple[float, float, float]:
        """Centre and radius (m) of the smallest circle we report for the shape."""
        middle = self.start_angle_deg + self.opening_angle_deg / 2
        distance = (self.inner_radius_m + self.outer_radius_m) / 2
        lat, lon = _destination(self.lat, self.lon, middle, distance)
        bearings = [self.start_angle_deg + self.opening_angle_deg * k / 16 for k in range(17)]
        edge = [
            _destination(self.lat, self.lon, bearing, r)
            for bearing in bearings
            for r in (self.inner_radius_m, self.outer_radius_m)
        ]
        return lat, lon, max(_distance_m(lat, lon, elat, elon) for elat, elon in edge)


@dataclass(frozen=True, slots=True)
class Polygon:
    exterior: tuple[tuple[float, float], ...]
    alt_m: float | None = None

    def extent(self) -> tuple[float, float, float]:
        """Centre and radius (m) of the smallest circle we report for the shape."""
        return _ring_extent(self.exterior)


@dataclass(frozen=True, slots=True)
class Sphere:
    lat: float
    lon: float
    alt_m: float
    radius_m: float

    def extent(self) -> tuple[float, float, float]:
        """Centre and radius (m) of the smallest circle we report for the shape."""
        return self.lat, self.lon, self.radius_m


@dataclass(frozen=True, slots=True)
class Ellipsoid:
    lat: float
    lon: float
    alt_m: float
    semi_major_m: float
    semi_minor_m: float
    vertical_axis_m: float
    orientation_deg: float

    def extent(self) -> tuple[float, float, float]:
        """Centre and radius (m) of the smallest circle we report for the shape."""
        return self.lat, self.lon, self.semi_major_m


@dataclass(frozen=True, slots=True)
class Prism:
    base: tuple[tuple[float, float, float], ...]
    height_m: float

    def extent(self) -> tuple[float, float, float]:
        """Centre and radius (m) of the smallest circle we report for the shape."""
        return _ring_extent(tuple((lat, lon) for lat, lon, _ in self.base))

    @property
    def alt_m(self) -> float:
        return min(alt for _, _, alt in self.base)


Shape = Point | Circle | Ellipse | ArcBand | Polygon | Sphere | Ellipsoid | Prism
