"""Ranking units for an incident; the straight-line ranker is the seam the road-ETA ranker fills."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from ansim.domain.units import Unit

EARTH_RADIUS_M = 6_371_008.8
# Seoul urban traffic averages 24-26 km/h; a car with lights runs faster, streets add detours.
STRAIGHT_LINE_SPEED_MPS = 25 / 3.6 * 1.3
DETOUR_FACTOR = 1.4


@dataclass(frozen=True)
class RankedUnit:
    unit: Unit
    eta_s: float | None
    distance_m: float | None
    reason: str = ""


class UnitRanker(Protocol):
    def rank(self, *, lat: float, lon: float, units: Sequence[Unit]) -> list[RankedUnit]:
        """Orders `units` by how soon each can reach (lat, lon); unreachable ones last."""
        ...


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


class StraightLineRanker:
    """Estimates drive time from straight-line distance; used when no road network is loaded."""

    def rank(self, *, lat: float, lon: float, units: Sequence[Unit]) -> list[RankedUnit]:
        ranked = []
        for unit in units:
            if unit.lat is None or unit.lon is None:
                ranked.append(RankedUnit(unit, None, None, "no position reported"))
                continue
            distance = haversine_m(unit.lat, unit.lon, lat, lon) * DETOUR_FACTOR
            ranked.append(RankedUnit(unit, distance / STRAIGHT_LINE_SPEED_MPS, distance))
        return sorted(ranked, key=_order)


def _order(ranked: RankedUnit) -> tuple[bool, float]:
    return (ranked.eta_s is None, ranked.eta_s or 0.0)
