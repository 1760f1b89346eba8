"""WGS84 helpers: great-circle distance, bearing and a local metric frame around an origin."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ansim.domain.fixes import check_position

# IUGG mean Earth radius; haversine error against the ellipsoid stays under 0.5 %.
EARTH_RADIUS_M = 6_371_008.8

FloatArray = npt.NDArray[np.float64]


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres between two WGS84 positions."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def haversine_many_m(
    lat1: FloatArray | float,
    lon1: FloatArray | float,
    lat2: FloatArray | float,
    lon2: FloatArray | float,
) -> FloatArray:
    """Vectorised haversine distance in metres (arguments broadcast like numpy)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return np.asarray(2 * EARTH_RADIUS_M * np.arcsin(np.minimum(1.0, np.sqrt(a))), np.float64)


def initial_bearing_deg(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Initial great-circle bearing from the first to the second position, 0-360° from north."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dl = math.radians(lon2 - lon1)
    x = math.sin(dl) * math.cos(p2)
    y = math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl)
    return math.degrees(math.atan2(x, y)) % 360.0


@dataclass(frozen=True, slots=True)
class LocalFrame:
    """East/north tangent plane in metres around an origin (equirectangular; fine within ~50 km)."""

    origin_lat: float
    origin_lon: float

    def __post_init__(self) -> None:
        check_position(self.origin_lat, self.origin_lon)

    @property
    def _m_per_deg_lat(self) -> float:
        return math.radians(1.0) * EARTH_RADIUS_M

    @property
    def _m_per_deg_lon(self) -> float:
        return math.radians(1.0) * EARTH_RADIUS_M * math.cos(math.radians(self.origin_lat))

    def to_metres(self, lat: float, lon: float) -> tuple[float, float]:
        """(east, north) metres of a position relative to the origin."""
        return (
            (lon - self.origin_lon) * self._m_per_deg_lon,
            (lat - self.origin_lat) * self._m_per_deg_lat,
        )

    def to_latlon(self, east: float, north: float) -> tuple[float, float]:
        """(lat, lon) of a point given in metres east and north of the origin."""
        return (
            self.origin_lat + north / self._m_per_deg_lat,
            self.origin_lon + east / self._m_per_deg_lon,
        )

    def to_metres_many(self, lat: FloatArray, lon: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Vectorised `to_metres`: arrays of east and north metres."""
        east = (np.asarray(lon, np.float64) - self.origin_lon) * self._m_per_deg_lon
        north = (np.asarray(lat, np.float64) - self.origin_lat) * self._m_per_deg_lat
        return east, north

    def to_latlon_many(self, east: FloatArray, north: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Vectorised `to_latlon`: arrays of lat and lon."""
        lat = self.origin_lat + np.asarray(north, np.float64) / self._m_per_deg_lat
        lon = self.origin_lon + np.asarray(east, np.float64) / self._m_per_deg_lon
        return lat, lon
