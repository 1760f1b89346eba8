"""Location fixes: one position report with honest uncertainty, normalised to 95 % confidence."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from ansim.domain.errors import InvalidInput

COMMON_CONFIDENCE = 0.95
# A handset or network that claims more than this is wrong or hostile, not merely vague.
MAX_RADIUS_M = 50_000.0
# No road vehicle a kidnapper uses goes faster than this (m/s, ~250 km/h).
MAX_SPEED_MPS = 70.0
# Clocks drift; a fix more than this far in the future is refused.
MAX_FUTURE_SKEW = timedelta(minutes=2)


class FixMethod(StrEnum):
    GNSS = "gnss"
    WIFI = "wifi"
    CELL = "cell"
    AML = "aml"
    MANUAL = "manual"
    UNKNOWN = "unknown"


def radius_at_95(radius_m: float, confidence: float) -> float:
    """Converts a radius given at `confidence` (0-1) to the radius holding 95 %.

    Assumes a circular bivariate normal error: r(p) = sigma * sqrt(-2 ln(1 - p)).
    """
    if not 0.0 < confidence < 1.0:
        raise InvalidInput(f"confidence must be between 0 and 1 (exclusive), got {confidence}")
    return (
        radius_m
        * math.sqrt(-2 * math.log(1 - COMMON_CONFIDENCE))
        / math.sqrt(-2 * math.log(1 - confidence))
    )


@dataclass(frozen=True, slots=True)
class LocationFix:
    """A position report; `radius_m` is the horizontal uncertainty at 95 % confidence."""

    lat: float
    lon: float
    radius_m: float
    method: FixMethod
    observed_at: datetime
    source: str
    altitude_m: float | None = None
    floor: int | None = None
    speed_mps: float | None = None
    heading_deg: float | None = None

    def __post_init__(self) -> None:
        check_position(self.lat, self.lon)
        if not math.isfinite(self.radius_m) or self.radius_m < 0:
            raise InvalidInput(
                f"radius must be a non-negative number of metres, got {self.radius_m}"
            )
        if self.radius_m > MAX_RADIUS_M:
            raise InvalidInput(f"radius {self.radius_m} m is beyond {MAX_RADIUS_M:.0f} m")
        if self.observed_at.tzinfo is None:
            raise InvalidInput("fix time must carry a time zone")
        if self.speed_mps is not None and not 0 <= self.speed_mps <= MAX_SPEED_MPS:
            raise InvalidInput(f"speed {self.speed_mps} m/s is beyond any vehicle")
        if self.heading_deg is not None and not 0 <= self.heading_deg <= 360:
            raise InvalidInput(f"heading must be 0-360 degrees, got {self.heading_deg}")

    @classmethod
    def with_confidence(
        cls, *, lat: float, lon: float, radius_m: float, confidence: float, **rest: object
    ) -> LocationFix:
        """Builds a fix from a radius stated at another confidence (0-1)."""
        return cls(lat=lat, lon=lon, radius_m=radius_at_95(radius_m, confidence), **rest)  # type: ignore[arg-type]

    def columns(self) -> dict[str, object]:
        """The fix as the fix tables store it: its fields, the method by its value."""
        return {
            "lat": self.lat,
            "lon": self.lon,
            "radius_m": self.radius_m,
            "method": self.method.value,
            "observed_at": self.observed_at,
            "source": self.source,
            "altitude_m": self.altitude_m,
            "floor": self.floor,
            "speed_mps": self.speed_mps,
            "heading_deg": self.heading_deg,
        }

    @classmethod
    def from_columns(cls, row: Mapping[Any, Any]) -> LocationFix:
        """The fix a stored row holds (its `columns`)."""
        return cls(
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

    def check_not_future(self, now: datetime) -> None:
        if self.observed_at - now > MAX_FUTURE_SKEW:
            raise InvalidInput(f"fix time {self.observed_at.isoformat()} is in the future")


def check_position(lat: float, lon: float) -> None:
    """Raises InvalidInput unless (lat, lon) is a real WGS84 position."""
    if not (math.isfinite(lat) and -90.0 <= lat <= 90.0):
        raise InvalidInput(f"latitude must be within ±90 degrees, got {lat}")
    if not (math.isfinite(lon) and -180.0 <= lon <= 180.0):
        raise InvalidInput(f"longitude must be within ±180 degrees, got {lon}")
