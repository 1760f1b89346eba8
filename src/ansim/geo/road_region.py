"""The road-shaped 95 % region of a car: the roads it can have reached since its last fix.

For a track the filter thinks is in a vehicle, the recent filtered positions are matched to the
road graph (hidden-Markov map matching, `ansim.domain.map_matching`): candidate roads near each
position, weighed by distance and by route continuity. The start is the stretch of the likely
roads within the 95 % radius of the position at the last fix; from there the car may have
driven `speed_bound × time since the last fix` in either direction along any road (one-way
streets are not trusted: a fleeing car, or a map error). Those stretches, buffered by the road's
own width and the map's error, are the region. Where the roads cannot explain the fixes (no road
near, or no drive between consecutive positions) there is no region and the ellipse stays: the
free-movement estimate, never a lost SOS.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import shapely
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from ansim.domain.estimate import (
    VEHICLE_GROWTH_MPS,
    VEHICLE_MIN_SPEED_MPS,
    VEHICLE_PROBABILITY,
    Estimate,
    Polygons,
    RoadRegion,
    TrackPoint,
)
from ansim.domain.fusion_tuning import VEHICLE
from ansim.domain.map_matching import emission, match, transition
from ansim.geo.geodesy import LocalFrame
from ansim.geo.road_edges import RoadEdges, RoadPosition, road_edges
from ansim.geo.road_prediction import PREDICT_ALONG_ROADS, MatchedDrive, predicted
from ansim.geo.roads import RoadGraph

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# 60 km/h: faster than Seoul's traffic almost always is (24-26 km/h on average); a car that
# drove faster since its last fix may be outside the region.
# The same bound is the stored growth rate of a car's single figure (domain.estimate).
SPEED_BOUND_MPS = VEHICLE_GROWTH_MPS
# Half the width of a wide road plus the map's own error: the car is this near the centre line.
ROAD_BUFFER_M = 20.0
# Beyond this reach (a car unheard of for a minute) the region is a good part of the city: the
# ellipse says as much, and costs nothing (the union of the buffers grows with the square).
MAX_REACH_M = 1000.0
# Below VEHICLE_PROBABILITY / VEHICLE_MIN_SPEED_MPS (domain.estimate) the track is not treated as
# a car (without the speed gate the region, on the roads, left a building out: 97.8 -> 91.8 %
# inside; docs/location.md). The region reads the speed at the look; the prediction along roads
# the speed at the last fix, turned back from the look over at most this long (the region gated
# that way left more buildings out: standing still 95.9 -> 93.1 % inside; docs/location.md).
MAX_AGE_S = 120.0
# Map matching over the last few filtered positions, not older than this.
WINDOW_POINTS = 8
WINDOW_S = 180.0
CANDIDATES = 16
# Candidate roads are searched within the position's 95 % radius, clamped to these.
SEARCH_MIN_M, SEARCH_MAX_M = 25.0, 300.0
# Roads kept at the newest position: the most likely ones holding this much probability.
POSTERIOR_MASS = 0.99
# Newson & Krumm's beta: how much longer than the straight line a drive between fixes may be.
BETA_M = 40.0
# The drawn region: simplified to this tolerance, and never more vertices than this.
SIMPLIFY_M = 4.0
MAX_VERTICES = 800
# Move the position onto the nearest reachable road: off, it gained ~1 m of median error
# (docs/location.md), and the rule keeps the estimate free unless matching improves it.
SNAP_TO_ROAD = False


def road_region(
    estimate: Estimate,
    graph: RoadGraph,
    *,
    speed_bound_mps: float = SPEED_BOUND_MPS,
    posterior_mass: float = POSTERIOR_MASS,
) -> RoadRegion | None:
    """The road-shaped 95 % region of a car-like track at the estimate's time, or None (the
    ellipse stays): not a car, off the mapped roads, or fixes no drive explains."""
    reach = speed_bound_mps * estimate.age_s
    if reach > MAX_REACH_M:
        return None
    roads = road_edges(graph)
    matched = _matched_drive(estimate, roads, posterior_mass, estimate.speed_mps)
    if matched is None:
        return None
    last = estimate.track[-1]
    px, py = roads.graph.frame.to_metres(last.lat, last.lon)
    seeds = []
    for candidate, _ in matched.likely:
        stretch = roads.within(candidate.edge, px, py, max(last.radius_95_m, candidate.distance_m))
        if stretch is not None:
            seeds.append((candidate.edge, *stretch))
    if not seeds:
        return None
    lines = _reachable(roads, seeds, reach)
    # Buffering each stretch, then one union, is an order of magnitude faster than buffering
    # them all as one geometry (GEOS), and rounds corners coarsely enough for a map.
    pieces = shapely.buffer(
        np.array([shapely.LineString(line) for line in lines]), ROAD_BUFFER_M, quad_segs=2
    )
    area = shapely.union_all(pieces)
    frame = roads.graph.frame
    # The filter's position moved onto the nearest reachable road: a car is on one.
    here = shapely.Point(*frame.to_metres(estimate.lat, estimate.lon))
    on_road = shapely.shortest_line(shapely.MultiLineString(lines), here).coords[0]
    return RoadRegion(
        polygons=_polygons(area, frame),
        area_m2=float(area.area),
        matched=tuple(frame.to_latlon(c.x, c.y) for c in matched.path),
        reach_m=reach,
        on_road=frame.to_latlon(*on_road),
        predicted=_ahead(roads, matched, estimate),
    )


def with_road_region(
    estimate: Estimate,
    graph: RoadGraph,
    *,
    snap: bool = SNAP_TO_ROAD,
    predict: bool = PREDICT_ALONG_ROADS,
) -> Estimate:
    """The estimate with its road region as the 95 % region when it has one and, with `predict`,
    its position moved along the matched roads to the estimate's time (with `snap`, on the
    nearest reachable road). A car without a region (unheard of for longer than the reach cap,
    or its speed at the look decayed under the gate) keeps the ellipse, its position still
    driven on along the roads when it was driving at its last fix."""
    region = road_region(estimate, graph)
    if region is not None:
        return estimate.on_roads(region, snap=snap, predict=predict)
    if not predict:
        return estimate
    roads = road_edges(graph)
    matched = _matched_drive(estimate, roads, POSTERIOR_MASS, driving_speed_mps(estimate))
    ahead = None if matched is None else _ahead(roads, matched, estimate)
    if ahead is None:
        return estimate
    lat, lon = ahead
    return dataclasses.replace(estimate, lat=lat, lon=lon)


def driving_speed_mps(estimate: Estimate) -> float:
    """The filter's speed at the last fix: its speed at `now` has decayed since, with the vehicle
    model's velocity memory (a car unheard of for 30 s was otherwise no longer a car)."""
    return estimate.speed_mps * math.exp(min(estimate.age_s, MAX_AGE_S) / VEHICLE.tau_s)


def _matched_drive(
    estimate: Estimate, roads: RoadEdges, posterior_mass: float, speed_mps: float
) -> MatchedDrive | None:
    """The car's recent drive matched to the roads, or None: not a car (by the vehicle-mode
    probability and `speed_mps`), its newest position off the roads, or fixes no drive explains."""
    if (
        estimate.vehicle_probability < VEHICLE_PROBABILITY
        or speed_mps < VEHICLE_MIN_SPEED_MPS
        or not estimate.track
    ):
        return None
    last = estimate.track[-1]
    window = [p for p in estimate.track if (last.at - p.at).total_seconds() <= WINDOW_S]
    steps = [(p, _candidates(roads, p)) for p in window[-WINDOW_POINTS:]]
    steps = [(p, found) for p, found in steps if found]
    if not steps or steps[-1][0] is not last:
        return None  # the newest position is off the roads: free movement
    return _matched(roads, steps, posterior_mass)


def _ahead(roads: RoadEdges, drive: MatchedDrive, estimate: Estimate) -> tuple[float, float] | None:
    """(lat, lon) where the car most likely is now, driven on along the roads."""
    free = roads.graph.frame.to_metres(estimate.lat, estimate.lon)
    ahead = predicted(
        roads, drive, heading_deg=estimate.heading_deg, age_s=estimate.age_s, free=free
    )
    return roads.graph.frame.to_latlon(*ahead) if ahead is not None else None


# Consecutive looks at a track share all but the newest positions: each position's candidates
# and each transition are worked out once.
@functools.lru_cache(maxsize=4096)
def _route(roads: RoadEdges, p: TrackPoint, q: TrackPoint) -> FloatArray:
    before, after = _candidates(roads, p), _candidates(roads, q)
    straight = math.hypot(*_xy_gap(p, q, roads))
    seconds = max((q.at - p.at).total_seconds(), 1.0)
    return _route_metres(roads, before, after, limit=straight + 60.0 * seconds + 500.0)


@functools.lru_cache(maxsize=4096)
def _transition(roads: RoadEdges, p: TrackPoint, q: TrackPoint) -> FloatArray:
    before, after = _candidates(roads, p), _candidates(roads, q)
    return transition(_route(roads, p, q), _straight(before, after), BETA_M)


@functools.lru_cache(maxsize=4096)
def _candidates(roads: RoadEdges, point: TrackPoint) -> list[RoadPosition]:
    radius = min(max(point.radius_95_m, SEARCH_MIN_M), SEARCH_MAX_M)
    snaps = roads.graph.snaps_near(point.lat, point.lon, within_m=radius, limit=2 * CANDIDATES)
    px, py = roads.graph.frame.to_metres(point.lat, point.lon)
    found: dict[int, RoadPosition] = {}
    for snap in snaps:
        edge = int(roads.canonical[snap.edge])
        if edge not in found and len(found) < CANDIDATES:
            found[edge] = roads.project(edge, px, py)
    return list(found.values())


def _matched(
    roads: RoadEdges, steps: Sequence[tuple[TrackPoint, list[RoadPosition]]], posterior_mass: float
) -> MatchedDrive | None:
    """The Viterbi path since the last break and the likely roads at the newest position."""
    emissions = [
        emission([c.distance_m for c in found], max(p.radius_95_m / 2.45, 5.0))
        for p, found in steps
    ]
    transitions = [_transition(roads, p, q) for (p, _), (q, _) in itertools.pairwise(steps)]
    try:
        matching = match(emissions, transitions)
    except ValueError:
        return None
    newest = steps[-1][1]
    order = np.argsort(matching.posterior)[::-1]
    likely, mass = [], 0.0
    for k in order:
        likely.append((newest[int(k)], matching.posterior[int(k)]))
        mass += matching.posterior[int(k)]
        if mass >= posterior_mass:
            break
    since = steps[matching.first :]
    path = [found[k] for (_, found), k in zip(since, matching.path, strict=True)]
    driven = [
        float(_route(roads, p, q)[i, j])
        for ((p, _), (q, _)), (i, j) in zip(
            itertools.pairwise(since), itertools.pairwise(matching.path), strict=True
        )
    ]
    return MatchedDrive(
        path=tuple(path),
        times=tuple(p.at for p, _ in since),
        driven_m=tuple(driven),
        likely=tuple(likely),
    )


def _xy_gap(p: TrackPoint, q: TrackPoint, roads: RoadEdges) -> tuple[float, float]:
    ax, ay = roads.graph.frame.to_metres(p.lat, p.lon)
    bx, by = roads.graph.frame.to_metres(q.lat, q.lon)
    return bx - ax, by - ay


def _straight(before: list[RoadPosition], after: list[RoadPosition]) -> FloatArray:
    bx = np.array([c.x for c in before])[:, None]
    by = np.array([c.y for c in before])[:, None]
    ax = np.array([c.x for c in after])[None, :]
    ay = np.array([c.y for c in after])[None, :]
    return np.asarray(np.hypot(ax - bx, ay - by), np.float64)


def _route_metres(
    roads: RoadEdges, before: list[RoadPosition], after: list[RoadPosition], *, limit: float
) -> FloatArray:
    """Drive metres between every pair of candidates (inf beyond `limit`), either direction."""
    g = roads.graph
    nodes = sorted({int(n) for c in before for n in (g.edge_from[c.edge], g.edge_to[c.edge])})
    dist = dijkstra(roads.matrix, directed=False, indices=nodes, limit=limit)
    row = {n: i for i, n in enumerate(nodes)}
    out = np.full((len(before), len(after)), np.inf)
    for i, a in enumerate(before):
        ends_a = (
            (int(g.edge_from[a.edge]), a.along_m),
            (int(g.edge_to[a.edge]), roads.length[a.edge] - a.along_m),
        )
        for j, b in enumerate(after):
            if a.edge == b.edge:
                out[i, j] = abs(a.along_m - b.along_m)
                continue
            ends_b = (
                (int(g.edge_from[b.edge]), b.along_m),
                (int(g.edge_to[b.edge]), roads.length[b.edge] - b.along_m),
            )
            out[i, j] = min(
                cost_a + dist[row[na], nb] + cost_b
                for na, cost_a in ends_a
                for nb, cost_b in ends_b
            )
    return out


def _reachable(
    roads: RoadEdges, seeds: list[tuple[int, float, float]], reach: float
) -> list[list[tuple[float, float]]]:
    """Polylines (metres) of every road stretch within `reach` of the seed stretches."""
    g = roads.graph
    n = g.node_count
    lines = [
        roads.cut(edge, max(0.0, a - reach), min(roads.length[edge], b + reach))
        for edge, a, b in seeds
    ]
    if reach <= 0:
        return lines
    cost: dict[int, float] = {}
    for edge, a, b in seeds:
        for node, c in (
            (int(g.edge_from[edge]), a),
            (int(g.edge_to[edge]), roads.length[edge] - b),
        ):
            cost[node] = min(cost.get(node, math.inf), c)
    nodes = sorted(cost)
    matrix = csr_matrix(
        (
            np.concatenate([roads.weights, [max(cost[v], 1e-6) for v in nodes]]),
            (np.concatenate([roads.rows, [n] * len(nodes)]), np.concatenate([roads.cols, nodes])),
        ),
        shape=(n + 1, n + 1),
    )
    dist = dijkstra(matrix, directed=False, indices=n, limit=reach)
    for v, c in cost.items():
        dist[v] = min(dist[v], c)
    edges = roads.roads
    du, dv = dist[g.edge_from[edges]], dist[g.edge_to[edges]]
    length = roads.length[edges]
    from_start = np.where(du < reach, np.minimum(length, reach - du), 0.0)
    from_end = np.where(dv < reach, np.minimum(length, reach - dv), 0.0)
    for k in np.flatnonzero((du < reach) | (dv < reach)):
        edge, total = int(edges[k]), float(length[k])
        if from_start[k] + from_end[k] >= total:  # the whole road, once
            lines.append(roads.cut(edge, 0.0, total))
            continue
        if from_start[k] > 0:
            lines.append(roads.cut(edge, 0.0, float(from_start[k])))
        if from_end[k] > 0:
            lines.append(roads.cut(edge, total - float(from_end[k]), total))
    return lines


def _polygons(area: shapely.Geometry, frame: LocalFrame) -> Polygons:
    """The region in lon/lat, simplified until it has at most MAX_VERTICES vertices."""
    tolerance = SIMPLIFY_M
    drawn = area.simplify(tolerance)
    while shapely.get_num_coordinates(drawn) > MAX_VERTICES:
        tolerance *= 2.0
        drawn = area.simplify(tolerance)
    parts = getattr(drawn, "geoms", [drawn])
    polygons = []
    for polygon in parts:
        if polygon.is_empty:
            continue
        rings = []
        for ring in (polygon.exterior, *polygon.interiors):
            xy = np.asarray(ring.coords)
            lat, lon = frame.to_latlon_many(xy[:, 0], xy[:, 1])
            rings.append(
                tuple(zip(np.round(lon, 7).tolist(), np.round(lat, 7).tolist(), strict=True))
            )
        polygons.append(tuple(rings))
    return tuple(polygons)


def region_samples(region: RoadRegion, count: int = 400) -> tuple[tuple[float, float], ...]:
    """About `count` (lat, lon) points spread evenly over the region (a grid kept where it is
    inside): what CCTV selection integrates over instead of the ellipse."""
    shape = shapely.MultiPolygon(
        [shapely.Polygon(polygon[0], polygon[1:]) for polygon in region.polygons]
    )
    west, south, east, north = shape.bounds
    spacing = math.sqrt(max(shape.area, 1e-12) / count)
    lon, lat = np.meshgrid(
        np.arange(west + spacing / 2, east, spacing), np.arange(south + spacing / 2, north, spacing)
    )
    inside = shapely.contains_xy(shape, lon.ravel(), lat.ravel())
    return tuple(zip(lat.ravel()[inside].tolist(), lon.ravel()[inside].tolist(), strict=True))
