"""Ground truth on the bundled Seoul road network: walks from real schools, car abductions.

A walk leaves a school along the routed road path toward a random place 1-2 km away; an
abduction walks from a school for 30-120 s, then drives routed roads (chained routes so a
10-minute drive never runs out of road). Routing is the project's own (`ansim.geo.routing`).
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from ansim.geo.demo_data import School, load_road_graph, load_schools
from ansim.geo.roads import OffNetwork, RoadGraph
from ansim.geo.routing import NoRoute, route
from ansim.sim.location_traces import EARTH_RADIUS_M, Kind, Trace, follow

_TRIES = 20


class RoadTraces:
    """A trace maker for `location_bench.run(source=...)` over the Seoul road graph."""

    def __init__(self, graph: RoadGraph | None = None, duration_s: int = 600) -> None:
        self.graph = graph or load_road_graph()
        self.duration_s = duration_s
        lat, lon = self.graph.node_lat, self.graph.node_lon
        self.schools: tuple[School, ...] = tuple(
            s
            for s in load_schools()
            if lat.min() < s.lat < lat.max() and lon.min() < s.lon < lon.max()
        )

    def nearest_road(self, lat: float, lon: float) -> tuple[float, float] | None:
        """Nearest road point within 150 m (the filter's optional road constraint)."""
        try:
            snap = self.graph.snap(lat, lon, max_distance_m=150.0)
        except OffNetwork:
            return None
        return snap.lat, snap.lon

    def road_points(self, lat: float, lon: float) -> list[tuple[float, float, float, float]]:
        """Road segments within 150 m (the filter's heading-weighted road constraint)."""
        return self.graph.road_points(lat, lon, within_m=150.0)

    def __call__(self, kind: Kind, rng: np.random.Generator) -> Trace:
        school = self.schools[int(rng.integers(len(self.schools)))]
        origin = (school.lat, school.lon)
        if kind == "still":  # indoors at the school
            return follow(np.zeros((2, 2)), kind, rng, self.duration_s, origin=origin)
        # A walker covers at most ~1 km in 10 min; a car up to ~9 km.
        need_m, hop_m = (
            (1200.0, (900.0, 1800.0)) if kind == "walk" else (10_000.0, (2500.0, 5000.0))
        )
        line = self._drive(origin, need_m, hop_m, rng)
        path = np.array([_to_local(origin, lat, lon) for lat, lon in line])
        return follow(path, kind, rng, self.duration_s, origin=origin)

    def _drive(
        self,
        start: tuple[float, float],
        need_m: float,
        hop_m: tuple[float, float],
        rng: np.random.Generator,
    ) -> list[tuple[float, float]]:
        """Routed legs chained from `start` until they are `need_m` long."""
        line: list[tuple[float, float]] = [start]
        total = 0.0
        here = start
        while total < need_m:
            leg = self._leg(here, hop_m, rng)
            if leg is None:
                break
            line.extend(leg[1:])
            total += sum(_metres(a, b) for a, b in itertools.pairwise(leg))
            here = leg[-1]
        return line

    def _leg(
        self, here: tuple[float, float], hop_m: tuple[float, float], rng: np.random.Generator
    ) -> list[tuple[float, float]] | None:
        graph = self.graph
        try:
            source = graph.snap(*here)
        except OffNetwork:
            return None
        for _ in range(_TRIES):
            node = int(rng.integers(graph.node_count))
            target_at = (float(graph.node_lat[node]), float(graph.node_lon[node]))
            if not hop_m[0] <= _metres(here, target_at) <= hop_m[1]:
                continue
            found = route(graph, source, graph.snap(*target_at))
            if isinstance(found, NoRoute) or found.metres < 50:
                continue
            return [here, *found.polyline]
        return None


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    east, north = _to_local(a, *b)
    return math.hypot(east, north)


def _to_local(origin: tuple[float, float], lat: float, lon: float) -> tuple[float, float]:
    north = math.radians(lat - origin[0]) * EARTH_RADIUS_M
    east = math.radians(lon - origin[1]) * EARTH_RADIUS_M * math.cos(math.radians(origin[0]))
    return east, north
