"""The road graph as one undirected edge per road, in metres: what map matching, the road region
and the prediction along roads walk over (one-way streets are not trusted: a fleeing car, or a
map error)."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.sparse import csr_matrix

from ansim.geo.roads import RoadGraph

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class RoadPosition:
    """A point on a road: a candidate of map matching, or where the prediction stands."""

    edge: int  # one edge per road (the lower id of a two-way pair)
    along_m: float  # metres along the edge's geometry
    distance_m: float  # from the position it was projected from
    x: float
    y: float


class RoadEdges:
    """The graph as one undirected edge per road, in metres of the graph's own frame."""

    def __init__(self, graph: RoadGraph) -> None:
        self.graph = graph
        x, y = graph.frame.to_metres_many(graph.geom_lat, graph.geom_lon)
        self.x, self.y = x, y
        offsets = graph.geom_offsets
        step = np.hypot(np.diff(x), np.diff(y))
        step[offsets[1:-1] - 1] = 0.0  # no step from one edge's last point to the next's first
        cum = np.concatenate([[0.0], np.cumsum(step)])
        self.cum = cum - cum[offsets[:-1]].repeat(np.diff(offsets))
        self.length = self.cum[offsets[1:] - 1].copy()
        twin = graph.edge_twin
        ids = np.arange(graph.edge_count)
        self.canonical = np.where(twin >= 0, np.minimum(ids, twin), ids)
        roads = np.unique(self.canonical)
        self.roads = roads
        n = graph.node_count
        rows, cols = graph.edge_from[roads], graph.edge_to[roads]
        weights = np.maximum(self.length[roads], 0.01)
        order = np.lexsort((weights, np.maximum(rows, cols), np.minimum(rows, cols)))
        lo, hi = np.minimum(rows, cols)[order], np.maximum(rows, cols)[order]
        first = np.ones(len(order), np.bool_)
        first[1:] = (lo[1:] != lo[:-1]) | (hi[1:] != hi[:-1])
        keep = order[first]
        self.rows, self.cols, self.weights = rows[keep], cols[keep], weights[keep]
        self.matrix = csr_matrix((self.weights, (self.rows, self.cols)), shape=(n, n))
        # Direction of every edge's first and last segment (radians, atan2(dy, dx)).
        first_at, last_at = offsets[:-1], np.maximum(offsets[1:] - 2, offsets[:-1])
        self.leaving = np.arctan2(y[first_at + 1] - y[first_at], x[first_at + 1] - x[first_at])
        self.reaching = np.arctan2(y[last_at + 1] - y[last_at], x[last_at + 1] - x[last_at])
        # The roads meeting at each node (both ends of every road, loops once per end).
        ends = np.concatenate([graph.edge_from[roads], graph.edge_to[roads]])
        order = np.argsort(ends, kind="stable")
        meeting = np.concatenate([roads, roads])[order].tolist()
        at = np.searchsorted(ends[order], np.arange(n + 1)).tolist()
        self.meeting = [tuple(meeting[at[v] : at[v + 1]]) for v in range(n)]
        # Plain lists for the prediction's walk over junctions (per-item numpy costs ~1 us).
        self.starts: list[int] = graph.edge_from.tolist()
        self.ends: list[int] = graph.edge_to.tolist()
        self.lengths: list[float] = self.length.tolist()
        self.leaving_at: list[float] = self.leaving.tolist()
        self.reaching_at: list[float] = self.reaching.tolist()

    def points(self, edge: int) -> tuple[FloatArray, FloatArray, FloatArray]:
        a, b = self.graph.geom_offsets[edge], self.graph.geom_offsets[edge + 1]
        return self.x[a:b], self.y[a:b], self.cum[a:b]

    def roads_at(self, node: int) -> tuple[int, ...]:
        """The roads (canonical edges) that start or end at `node`."""
        return self.meeting[node]

    def point_at(self, edge: int, along: float) -> tuple[float, float]:
        x, y, cum = self.points(edge)
        return float(np.interp(along, cum, x)), float(np.interp(along, cum, y))

    def direction_at(self, edge: int, along: float) -> tuple[float, float]:
        """Unit vector of the road's geometry (forward) at `along` metres."""
        x, y, cum = self.points(edge)
        k = int(np.clip(np.searchsorted(cum, along, side="right") - 1, 0, len(x) - 2))
        dx, dy = float(x[k + 1] - x[k]), float(y[k + 1] - y[k])
        norm = max(math.hypot(dx, dy), 1e-9)
        return dx / norm, dy / norm

    def bearing(self, edge: int, *, at_start: bool, forward: bool) -> float:
        """Direction of travel (radians, atan2(dy, dx)) leaving the road's start or reaching its
        end, driving it forward (along its geometry) or backward."""
        angle = self.leaving_at[edge] if at_start else self.reaching_at[edge]
        return angle if forward else angle + math.pi

    def project(self, edge: int, px: float, py: float) -> RoadPosition:
        """The point of the road nearest (px, py)."""
        x, y, cum = self.points(edge)
        dx, dy = np.diff(x), np.diff(y)
        denom = np.maximum(dx * dx + dy * dy, 1e-12)
        t = np.clip(((px - x[:-1]) * dx + (py - y[:-1]) * dy) / denom, 0.0, 1.0)
        qx, qy = x[:-1] + t * dx, y[:-1] + t * dy
        dist = np.hypot(qx - px, qy - py)
        k = int(np.argmin(dist))
        along = float(cum[k] + t[k] * math.sqrt(float(denom[k])))
        return RoadPosition(edge, along, float(dist[k]), float(qx[k]), float(qy[k]))

    def within(self, edge: int, px: float, py: float, radius: float) -> tuple[float, float] | None:
        """The stretch (metres along) of the road within `radius` of (px, py), if any."""
        x, y, cum = self.points(edge)
        dx, dy = np.diff(x), np.diff(y)
        seg = np.maximum(np.hypot(dx, dy), 1e-9)
        t0 = ((px - x[:-1]) * dx + (py - y[:-1]) * dy) / seg
        h2 = (px - x[:-1]) ** 2 + (py - y[:-1]) ** 2 - t0**2
        half = np.sqrt(np.maximum(radius**2 - h2, 0.0))
        start, end = np.maximum(t0 - half, 0.0), np.minimum(t0 + half, seg)
        hit = (h2 <= radius**2) & (start <= end)
        if not np.any(hit):
            return None
        return float(np.min((cum[:-1] + start)[hit])), float(np.max((cum[:-1] + end)[hit]))

    def cut(self, edge: int, start: float, end: float) -> list[tuple[float, float]]:
        x, y, cum = self.points(edge)
        inner = [(float(x[i]), float(y[i])) for i in range(len(x)) if start < cum[i] < end]
        first = (float(np.interp(start, cum, x)), float(np.interp(start, cum, y)))
        last = (float(np.interp(end, cum, x)), float(np.interp(end, cum, y)))
        return [first, *inner, last]


@functools.lru_cache(maxsize=4)
def road_edges(graph: RoadGraph) -> RoadEdges:
    return RoadEdges(graph)
