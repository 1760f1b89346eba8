"""Where a car on roads is now: its position driven on along the matched roads since its last fix.

Between fixes the filter extrapolates a car in a straight line with a velocity it slowly forgets;
a car follows the road and turns at junctions. From the newest matched road position (the map
matching of `geo.road_region`), in the direction the matched path was driving, the car is moved
on by its matched speed (route metres over the recent path per second) times the time since the
last fix. At a junction whose turn is unknown the drive branches into every road but the one it
came on, the straighter ones more likely (`STRAIGHT_PREFERENCE`); a dead end stops it. The
position shown is the point that minimises the expected distance to all those ends (their
weighted geometric median): one guess at the turn would be wrong by a block whenever it is. The
95 % region stays the roads reachable since the last fix (`geo.road_region`); this only moves the
point estimate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from ansim.geo.road_edges import RoadEdges, RoadPosition

# Move the board's position along the matched roads (docs/location.md, "Vehicles on roads":
# measured against the filter's straight-line extrapolation on the same traces).
PREDICT_ALONG_ROADS = True
# The matched speed: route metres over the path of this last stretch of time.
SPEED_WINDOW_S = 60.0
# A junction's turn weight is exp(k (cos(turn) - 1)): 0 every road alike, large keeps straight on.
STRAIGHT_PREFERENCE = 1.0
# How far the car may have gone, as shares of speed x time with their weights: traffic lights and
# slowing for turns make the distance less certain than the speed.
DISTANCE_SHARES: tuple[tuple[float, float], ...] = ((1.0, 1.0),)
# The filter's own (straight-line) position as one more end, with this weight: a hedge against a
# wrong road or direction.
FREE_SHARE = 0.2
# A branch less likely than this stops branching and keeps straight on (bounds the work: at most
# ~1 / MIN_SHARE ends per distance share).
MIN_SHARE = 0.01
# Below this matched speed the car is taken to be standing (no move along the road).
MIN_SPEED_MPS = 0.5
# A path step shorter than this does not say which way the car drives: the filter's heading does.
MIN_STEP_M = 5.0


@dataclass(frozen=True, slots=True)
class MatchedDrive:
    """What map matching says about a car's recent drive (oldest first, since the chain last
    broke): the matched road positions, when the car was there, the route metres between
    consecutive ones, and the likely roads at the newest position with their probability."""

    path: tuple[RoadPosition, ...]
    times: tuple[datetime, ...]
    driven_m: tuple[float, ...]
    likely: tuple[tuple[RoadPosition, float], ...]

    def speed_mps(self, window_s: float | None = None) -> float | None:
        """Route metres driven per second over the newest `window_s` of the path (None: one
        position only, nothing driven to measure)."""
        window_s = SPEED_WINDOW_S if window_s is None else window_s
        newest = self.times[-1]
        metres, seconds = 0.0, 0.0
        for k in range(len(self.driven_m) - 1, -1, -1):
            if (newest - self.times[k]).total_seconds() > window_s and seconds > 0:
                break
            metres += self.driven_m[k]
            seconds += (self.times[k + 1] - self.times[k]).total_seconds()
        if seconds <= 0 or not math.isfinite(metres):
            return None
        return metres / seconds


def predicted(
    roads: RoadEdges,
    drive: MatchedDrive,
    *,
    heading_deg: float,
    age_s: float,
    free: tuple[float, float] | None = None,
) -> tuple[float, float] | None:
    """The car's most likely position (metres of the graph's frame) `age_s` after its newest
    matched position, or None (the filter's position stays): a chain of one position, or no
    speed to drive on with."""
    speed = drive.speed_mps()
    if speed is None:
        return None
    start = drive.path[-1]
    if speed < MIN_SPEED_MPS or age_s <= 0:
        return start.x, start.y
    forward = _forward(roads, drive, heading_deg)
    ends: list[tuple[float, float, float]] = []
    for share, weight in DISTANCE_SHARES:
        ends += _drive_on(roads, start, forward, share * speed * age_s, weight)
    if free is not None and FREE_SHARE > 0:
        ends = [(x, y, w * (1.0 - FREE_SHARE)) for x, y, w in ends] + [(*free, FREE_SHARE)]
    return _geometric_median(np.array(ends))


def _forward(roads: RoadEdges, drive: MatchedDrive, heading_deg: float) -> bool:
    """True when the car drives the newest road along its geometry: the direction of the matched
    path's last step, or the filter's heading when that step is too short to tell."""
    newest = drive.path[-1]
    if len(drive.path) >= 2 and drive.driven_m[-1] >= MIN_STEP_M:
        before = drive.path[-2]
        if before.edge == newest.edge:
            return newest.along_m >= before.along_m
        dx, dy = newest.x - before.x, newest.y - before.y
    else:
        dx, dy = math.sin(math.radians(heading_deg)), math.cos(math.radians(heading_deg))
    ex, ey = roads.direction_at(newest.edge, newest.along_m)
    return dx * ex + dy * ey >= 0


def _drive_on(
    roads: RoadEdges, start: RoadPosition, forward: bool, metres: float, weight: float
) -> list[tuple[float, float, float]]:
    """(x, y, weight) of every place the car can be after driving `metres` from `start`."""
    ends: list[tuple[float, float, float]] = []
    branches = [(start.edge, start.along_m, forward, metres, weight)]
    while branches:
        edge, along, ahead, left, share = branches.pop()
        length = roads.lengths[edge]
        room = length - along if ahead else along
        if left <= room:
            ends.append((*roads.point_at(edge, along + left if ahead else along - left), share))
            continue
        left -= room
        node = roads.ends[edge] if ahead else roads.starts[edge]
        arriving = roads.bearing(edge, at_start=not ahead, forward=ahead)
        options = []
        for road in roads.roads_at(node):
            if road == edge:
                continue
            leaves_start = roads.starts[road] == node
            leaving = roads.bearing(road, at_start=leaves_start, forward=leaves_start)
            options.append((road, leaves_start, math.cos(leaving - arriving) - 1.0))
        if not options:  # a dead end (or the map's edge): the car stops there
            ends.append((*roads.point_at(edge, length if ahead else 0.0), share))
            continue
        if share < MIN_SHARE:  # unlikely enough: straight on only, no more branching
            options = [max(options, key=lambda option: option[2])]
            odds = [1.0]
        else:
            odds = [math.exp(STRAIGHT_PREFERENCE * turn) for _, _, turn in options]
        total = sum(odds)
        for (road, leaves_start, _), odd in zip(options, odds, strict=True):
            at = 0.0 if leaves_start else roads.lengths[road]
            branches.append((road, at, leaves_start, left, share * odd / total))
    return ends


def _geometric_median(ends: np.ndarray) -> tuple[float, float]:
    """The point minimising the weighted sum of distances to the ends (Weiszfeld)."""
    xy, w = ends[:, :2], ends[:, 2] / ends[:, 2].sum()
    point = w @ xy
    for _ in range(50):
        distance = np.maximum(np.hypot(*(xy - point).T), 1e-6)
        pull = w / distance
        moved = pull @ xy / pull.sum()
        if math.hypot(*(moved - point)) < 0.1:
            point = moved
            break
        point = moved
    return float(point[0]), float(point[1])
