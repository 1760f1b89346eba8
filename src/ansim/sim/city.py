"""The simulated city's geometry: drives along the road graph and the true paths of reporters."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from ansim.geo.geodesy import haversine_m
from ansim.geo.roads import OffNetwork, RoadGraph, Snap
from ansim.geo.routing import NoRoute, route
from ansim.sim.location_traces import Trace

FloatArray = npt.NDArray[np.float64]
Mobility = Literal["stay", "walk", "car"]
# A drive the road graph cannot route (one-way islands) falls back to a straight line at this speed.
FALLBACK_SPEED_MPS = 6.0
WALK_SPEED_MPS = (1.1, 1.5)
CAR_SPEED_MPS = (7.0, 12.0)


@dataclass(frozen=True)
class Drive:
    """A timed path: where a vehicle is `t` seconds after it set off."""

    lat: FloatArray
    lon: FloatArray
    cum_m: FloatArray
    seconds: float

    @property
    def metres(self) -> float:
        return float(self.cum_m[-1])

    def position(self, t: float) -> tuple[float, float]:
        if self.seconds <= 0 or self.metres <= 0:
            return float(self.lat[-1]), float(self.lon[-1])
        done = min(max(t / self.seconds, 0.0), 1.0) * self.metres
        return float(np.interp(done, self.cum_m, self.lat)), float(
            np.interp(done, self.cum_m, self.lon)
        )


def _polyline_drive(points: list[tuple[float, float]], seconds: float) -> Drive:
    lat = np.array([p[0] for p in points], np.float64)
    lon = np.array([p[1] for p in points], np.float64)
    steps = [haversine_m(a[0], a[1], b[0], b[1]) for a, b in itertools.pairwise(points)]
    cum = np.concatenate([[0.0], np.cumsum(steps)]) if steps else np.array([0.0])
    return Drive(lat, lon, cum, seconds)


class City:
    """The road graph with the small questions the simulator asks of it."""

    def __init__(self, graph: RoadGraph) -> None:
        self.graph = graph

    def snap(self, lat: float, lon: float) -> Snap | None:
        try:
            return self.graph.snap(lat, lon, max_distance_m=3000.0)
        except OffNetwork:
            return None

    def drive(
        self, origin: tuple[float, float], target: tuple[float, float], *, speed_factor: float
    ) -> Drive:
        """The fastest road drive from origin to target (straight line if the graph has none)."""
        a, b = self.snap(*origin), self.snap(*target)
        found = route(self.graph, a, b) if a is not None and b is not None else None
        if found is None or isinstance(found, NoRoute) or len(found.polyline) < 2:
            metres = haversine_m(*origin, *target)
            return _polyline_drive([origin, target], metres / FALLBACK_SPEED_MPS)
        points = [origin, *found.polyline, target]
        return _polyline_drive(points, found.seconds / speed_factor)

    def random_place_near(
        self, rng: np.random.Generator, lat: float, lon: float, radius_m: float
    ) -> tuple[float, float]:
        """A point on the road network within about `radius_m` of (lat, lon)."""
        angle, distance = rng.uniform(0, 2 * math.pi), radius_m * math.sqrt(rng.uniform())
        north, east = distance * math.cos(angle), distance * math.sin(angle)
        target_lat = lat + math.degrees(north / 6_371_008.8)
        target_lon = lon + math.degrees(east / (6_371_008.8 * math.cos(math.radians(lat))))
        snap = self.snap(target_lat, target_lon)
        return (snap.lat, snap.lon) if snap is not None else (lat, lon)

    def reporter_trace(
        self,
        rng: np.random.Generator,
        start: tuple[float, float],
        mobility: Mobility,
        duration_s: int,
    ) -> Trace:
        """Where a person who pressed at `start` truly is each second afterwards."""
        frame_lat, frame_lon = start
        zeros = np.zeros(duration_s + 1)
        if mobility == "stay":
            return Trace("walk", start, zeros, zeros.copy())
        speed = rng.uniform(*(WALK_SPEED_MPS if mobility == "walk" else CAR_SPEED_MPS))
        reach = speed * duration_s * (0.5 if mobility == "walk" else 0.25)
        goal = self.random_place_near(rng, frame_lat, frame_lon, max(reach, 300.0))
        path = self.drive(start, goal, speed_factor=1.0)
        # A car abduction starts after the person is pushed in; a walker sets off at once.
        delay = rng.uniform(20, 90) if mobility == "car" else 0.0
        t = np.arange(duration_s + 1, dtype=np.float64)
        done = np.clip((t - delay) * speed, 0.0, path.metres)
        lat = np.interp(done, path.cum_m, path.lat)
        lon = np.interp(done, path.cum_m, path.lon)
        trace = Trace("car" if mobility == "car" else "walk", start, zeros, zeros)
        east_north = [trace.to_local(float(a), float(o)) for a, o in zip(lat, lon, strict=True)]
        east = np.array([e for e, _ in east_north])
        north = np.array([n for _, n in east_north])
        return Trace(trace.kind, start, east, north)
