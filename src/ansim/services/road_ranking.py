"""Ranking units by drive time on the road graph: one reverse Dijkstra for all available units."""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

from ansim.domain.errors import InvalidInput
from ansim.domain.units import Unit
from ansim.geo.roads import OffNetwork, RoadGraph, Snap
from ansim.geo.routing import UNREACHABLE_REASON, NoRoute, eta_from_units, route
from ansim.services.ranking import (
    DETOUR_FACTOR,
    STRAIGHT_LINE_SPEED_MPS,
    RankedUnit,
    StraightLineRanker,
    UnitRanker,
    haversine_m,
)
from ansim.store.uow import UnitOfWork

log = logging.getLogger(__name__)

NO_POSITION = "no position reported"
UNIT_SNAP_CACHE = 8192  # positions; a city's fleet is a few thousand units
OFF_MAP_INCIDENT = "incident is off the road map; straight-line estimate"


@dataclass(frozen=True)
class RouteLine:
    """A drive (or, without a road graph, a straight line) from a unit to an incident."""

    seconds: float | None
    metres: float | None
    polyline: tuple[tuple[float, float], ...]  # (lat, lon) from the unit to the incident
    on_roads: bool
    reason: str = ""


class RoadRanker:
    """Ranks by road ETA; an incident off the map falls back to straight line (fail safe: send help)."""

    def __init__(self, graph: RoadGraph) -> None:
        self.graph = graph
        self._fallback = StraightLineRanker()
        # Units stand still between SOSs (at a station, parked on a beat): each SOS snapped every
        # available unit again, more CPU than the Dijkstra. A snap depends only on the position.
        self._snap_unit = functools.lru_cache(maxsize=UNIT_SNAP_CACHE)(graph.snap)

    def rank(self, *, lat: float, lon: float, units: Sequence[Unit]) -> list[RankedUnit]:
        try:
            target = self.graph.snap(lat, lon)
        except OffNetwork:
            return [
                RankedUnit(r.unit, r.eta_s, r.distance_m, r.reason or OFF_MAP_INCIDENT)
                for r in self._fallback.rank(lat=lat, lon=lon, units=units)
            ]
        placed: list[tuple[Unit, Snap]] = []
        ranked: list[RankedUnit] = []
        for unit in units:
            if unit.lat is None or unit.lon is None:
                ranked.append(RankedUnit(unit, None, None, NO_POSITION))
                continue
            try:
                placed.append((unit, self._snap_unit(unit.lat, unit.lon)))
            except OffNetwork as error:
                ranked.append(RankedUnit(unit, None, None, f"unit is off the road map: {error}"))
        etas = eta_from_units(self.graph, target, [snap for _, snap in placed])
        for (unit, snap), eta in zip(placed, etas, strict=True):
            crow = haversine_m(snap.query_lat, snap.query_lon, lat, lon)
            if eta is None:
                ranked.append(RankedUnit(unit, None, crow, UNREACHABLE_REASON))
            else:
                ranked.append(RankedUnit(unit, eta, crow))
        return sorted(ranked, key=lambda r: (r.eta_s is None, r.eta_s or 0.0))

    def check_on_map(self, lat: float, lon: float) -> None:
        """Raises OffNetwork (422) unless the position lies on the road map."""
        self.graph.snap(lat, lon)

    def route(self, *, from_lat: float, from_lon: float, lat: float, lon: float) -> RouteLine:
        """The fastest drive from a unit's position to an incident, with its geometry."""
        try:
            source, target = self.graph.snap(from_lat, from_lon), self.graph.snap(lat, lon)
        except OffNetwork as error:
            return straight_route(from_lat, from_lon, lat, lon, reason=str(error))
        found = route(self.graph, source, target)
        if isinstance(found, NoRoute):
            return RouteLine(None, None, (), on_roads=True, reason=found.reason)
        line = ((from_lat, from_lon), *found.polyline, (lat, lon))
        return RouteLine(found.seconds, found.metres, line, on_roads=True)


def straight_route(
    from_lat: float, from_lon: float, lat: float, lon: float, *, reason: str = ""
) -> RouteLine:
    """A straight line with the straight-line ranker's time estimate."""
    distance = haversine_m(from_lat, from_lon, lat, lon) * DETOUR_FACTOR
    return RouteLine(
        distance / STRAIGHT_LINE_SPEED_MPS,
        distance,
        ((from_lat, from_lon), (lat, lon)),
        on_roads=False,
        reason=reason or "no road graph loaded; straight line",
    )


def route_for(
    ranker: UnitRanker, *, from_lat: float, from_lon: float, lat: float, lon: float
) -> RouteLine:
    """The route a ranker knows (road geometry with a RoadRanker, else a straight line)."""
    if isinstance(ranker, RoadRanker):
        return ranker.route(from_lat=from_lat, from_lon=from_lon, lat=lat, lon=lon)
    return straight_route(from_lat, from_lon, lat, lon)


def check_on_map(ranker: UnitRanker, lat: float, lon: float) -> None:
    """Refuses (InvalidInput, 422) a unit position the road map cannot route from."""
    if not (math.isfinite(lat) and math.isfinite(lon)):
        raise InvalidInput("position must be finite numbers")
    if isinstance(ranker, RoadRanker):
        ranker.check_on_map(lat, lon)


def default_ranker(uow: UnitOfWork | None = None) -> UnitRanker:
    """Road ETA on the center's imported graph (`ansim import roads`), else on the bundled
    central-Seoul graph; straight line if neither can be loaded."""
    from ansim.geo.demo_data import load_road_graph

    if uow is not None:
        from ansim.services.center_maps import stored_road_graph

        imported = stored_road_graph(uow)
        if imported is not None:
            log.info("ranking on the imported road network (%d nodes)", imported.node_count)
            return RoadRanker(imported)
    try:
        return RoadRanker(load_road_graph())
    except (OSError, ValueError, InvalidInput) as error:
        log.warning("bundled road graph not loaded (%s); ranking by straight line", error)
        return StraightLineRanker()
