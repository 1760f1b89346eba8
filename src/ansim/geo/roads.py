"""The drivable road graph: compact arrays, travel times by road class, and snapping to roads."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.sparse import csr_matrix

from ansim.domain.errors import InvalidInput
from ansim.domain.fixes import check_position
from ansim.geo.geodesy import LocalFrame

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

# Typical driving speed (km/h) in Seoul traffic by OSM road class, not the posted limit.
# Anchors: Seoul's average traffic speed is 24-26 km/h and downtown 17-19 km/h, so arterials
# (primary/secondary) sit near the city average and side streets well below the downtown figure.
# Links (ramps, slip roads) are a little slower than the road they serve.
URBAN_SPEED_KMH: dict[str, float] = {
    "motorway": 60.0,
    "motorway_link": 40.0,
    "trunk": 45.0,
    "trunk_link": 32.0,
    "primary": 30.0,
    "primary_link": 24.0,
    "secondary": 26.0,
    "secondary_link": 21.0,
    "tertiary": 22.0,
    "tertiary_link": 18.0,
    "unclassified": 18.0,
    "residential": 16.0,
    "living_street": 10.0,
    "service": 10.0,
}
DEFAULT_SPEED_KMH = 15.0
# Traffic rarely gets near the posted limit; the limit only caps slow classes further.
POSTED_LIMIT_SHARE = 0.6
# A patrol car with lights and siren moves this much faster than ordinary traffic.
DEFAULT_EMERGENCY_FACTOR = 1.3
# Beyond this distance from every road a position is not on the map we route on.
MAX_SNAP_DISTANCE_M = 500.0
# Spacing of the sample points used to find candidate road segments.
_SNAP_SAMPLE_M = 20.0
# Zero-length edges would vanish from a sparse matrix; give them a negligible cost instead.
_MIN_EDGE_SECONDS = 1e-3


class RoadImportError(InvalidInput):
    """A road file could not be read as a road network."""


class OffNetwork(InvalidInput):
    """A position lies too far from every road of the graph to route from or to it."""


@dataclass(frozen=True, slots=True)
class Snap:
    """A position projected onto the nearest directed edge; `offset_m` runs from the edge start."""

    edge: int
    offset_m: float
    distance_m: float
    lat: float
    lon: float
    query_lat: float
    query_lon: float


def speed_kmh(highway: str, maxspeed_kmh: float) -> float:
    """Typical urban driving speed for a road class, capped by a share of the posted limit."""
    speed = URBAN_SPEED_KMH.get(highway, DEFAULT_SPEED_KMH)
    if math.isfinite(maxspeed_kmh) and maxspeed_kmh > 0:
        speed = min(speed, POSTED_LIMIT_SHARE * maxspeed_kmh)
    return speed


class RoadGraph:
    """A directed road graph held in numpy arrays; geometry is one polyline per edge."""

    def __init__(
        self,
        *,
        node_ids: Sequence[int] | IntArray,
        node_lat: Sequence[float] | FloatArray,
        node_lon: Sequence[float] | FloatArray,
        edge_from: Sequence[int] | IntArray,
        edge_to: Sequence[int] | IntArray,
        edge_length_m: Sequence[float] | FloatArray,
        edge_highway: Sequence[str],
        edge_oneway: Sequence[bool] | BoolArray,
        edge_maxspeed_kmh: Sequence[float] | FloatArray,
        edge_name: Sequence[str],
        geom_offsets: Sequence[int] | IntArray,
        geom_lat: Sequence[float] | FloatArray,
        geom_lon: Sequence[float] | FloatArray,
        emergency_factor: float = DEFAULT_EMERGENCY_FACTOR,
    ) -> None:
        self.node_ids = np.asarray(node_ids, np.int64)
        self.node_lat = np.asarray(node_lat, np.float64)
        self.node_lon = np.asarray(node_lon, np.float64)
        self.edge_from = np.asarray(edge_from, np.int64)
        self.edge_to = np.asarray(edge_to, np.int64)
        self.edge_length_m = np.asarray(edge_length_m, np.float64)
        self.edge_highway = tuple(edge_highway)
        self.edge_oneway = np.asarray(edge_oneway, np.bool_)
        self.edge_maxspeed_kmh = np.asarray(edge_maxspeed_kmh, np.float64)
        self.edge_name = tuple(edge_name)
        self.geom_offsets = np.asarray(geom_offsets, np.int64)
        self.geom_lat = np.asarray(geom_lat, np.float64)
        self.geom_lon = np.asarray(geom_lon, np.float64)
        if not emergency_factor > 0:
            raise InvalidInput(f"emergency factor must be positive, got {emergency_factor}")
        self.emergency_factor = float(emergency_factor)
        self._check_shapes()
        limits = self.edge_maxspeed_kmh.tolist()
        speeds = np.array(
            [speed_kmh(h, m) for h, m in zip(self.edge_highway, limits, strict=True)],
            np.float64,
        )
        self.edge_speed_kmh = speeds * self.emergency_factor
        self.edge_seconds = np.maximum(
            self.edge_length_m / (self.edge_speed_kmh / 3.6), _MIN_EDGE_SECONDS
        )
        self.frame = LocalFrame(float(self.node_lat.mean()), float(self.node_lon.mean()))
        n = self.node_count
        self.out_indptr, self.out_edges = _edge_csr(self.edge_from, n)
        self.in_indptr, self.in_edges = _edge_csr(self.edge_to, n)

    def _check_shapes(self) -> None:
        n, m = len(self.node_ids), len(self.edge_from)
        if n == 0 or m == 0:
            raise RoadImportError("the road graph has no nodes or no edges")
        node_columns = (self.node_lat, self.node_lon)
        edge_columns = (
            self.edge_to,
            self.edge_length_m,
            self.edge_highway,
            self.edge_oneway,
            self.edge_maxspeed_kmh,
            self.edge_name,
        )
        if any(len(c) != n for c in node_columns) or any(len(c) != m for c in edge_columns):
            raise RoadImportError("road graph columns have different lengths")
        if len(self.geom_offsets) != m + 1 or len(self.geom_lat) != self.geom_offsets[-1]:
            raise RoadImportError("edge geometry offsets do not match the edges")
        if (
            min(self.edge_from.min(), self.edge_to.min()) < 0
            or max(self.edge_from.max(), self.edge_to.max()) >= n
        ):
            raise RoadImportError("an edge refers to a node that does not exist")
        if np.any(~np.isfinite(self.edge_length_m)) or np.any(self.edge_length_m < 0):
            raise RoadImportError("edge lengths must be non-negative numbers")

    @property
    def node_count(self) -> int:
        return len(self.node_ids)

    @property
    def edge_count(self) -> int:
        return len(self.edge_from)

    def with_emergency_factor(self, factor: float) -> RoadGraph:
        """The same roads with patrol-car speeds scaled by another factor."""
        return RoadGraph(**self._columns(), emergency_factor=factor)

    def _columns(self) -> dict[str, Any]:
        return {
            "node_ids": self.node_ids,
            "node_lat": self.node_lat,
            "node_lon": self.node_lon,
            "edge_from": self.edge_from,
            "edge_to": self.edge_to,
            "edge_length_m": self.edge_length_m,
            "edge_highway": self.edge_highway,
            "edge_oneway": self.edge_oneway,
            "edge_maxspeed_kmh": self.edge_maxspeed_kmh,
            "edge_name": self.edge_name,
            "geom_offsets": self.geom_offsets,
            "geom_lat": self.geom_lat,
            "geom_lon": self.geom_lon,
        }

    def node_index(self, osm_id: int) -> int:
        """Index of the node with this OSM id."""
        found = np.flatnonzero(self.node_ids == osm_id)
        if len(found) == 0:
            raise InvalidInput(f"no road node with id {osm_id}")
        return int(found[0])

    def edge_polyline(self, edge: int) -> list[tuple[float, float]]:
        """The (lat, lon) points of one edge from its start to its end."""
        a, b = self.geom_offsets[edge], self.geom_offsets[edge + 1]
        return list(zip(self.geom_lat[a:b].tolist(), self.geom_lon[a:b].tolist(), strict=True))

    def warm(self) -> None:
        """Builds the lookups routing needs once (~0.1 s on the bundled graph): at server start, so
        the first SOS after a restart does not pay for them, nor the SOSs queued behind it."""
        _ = self.edge_twin, self.reversed_matrix, self._snap_index

    @cached_property
    def edge_twin(self) -> IntArray:
        """For each edge, the edge running the other way along the same road, or -1."""
        pairs = list(zip(self.edge_from.tolist(), self.edge_to.tolist(), strict=True))
        by_pair: dict[tuple[int, int], list[int]] = {}
        for e, (u, v) in enumerate(pairs):
            by_pair.setdefault((u, v), []).append(e)
        twin = np.full(self.edge_count, -1, np.int64)
        for e, (u, v) in enumerate(pairs):
            length = self.edge_length_m[e]
            for r in by_pair.get((v, u), ()):
                if abs(self.edge_length_m[r] - length) <= max(1.0, 0.02 * length):
                    twin[e] = r
                    break
        return twin

    @cached_property
    def reversed_matrix(self) -> tuple[FloatArray, IntArray, IntArray, IntArray]:
        """CSR data, indices, indptr, entry edge of the reversed graph (fastest edge per pair)."""
        order = np.lexsort((self.edge_seconds, self.edge_from, self.edge_to))
        rows, cols = self.edge_to[order], self.edge_from[order]
        first = np.ones(len(order), np.bool_)
        first[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
        kept = order[first]
        matrix = csr_matrix(
            (self.edge_seconds[kept], (self.edge_to[kept], self.edge_from[kept])),
            shape=(self.node_count, self.node_count),
        )
        matrix.sort_indices()
        # Recover which edge each stored entry came from (pairs are unique after `first`).
        key_sorted = self.edge_to[kept] * self.node_count + self.edge_from[kept]
        entry_rows = np.repeat(np.arange(self.node_count), np.diff(matrix.indptr))
        entry_keys = entry_rows * self.node_count + matrix.indices
        perm = np.argsort(key_sorted)
        entry_edge = kept[perm][np.searchsorted(key_sorted[perm], entry_keys)]
        return (
            np.asarray(matrix.data, np.float64),
            np.asarray(matrix.indices, np.int64),
            np.asarray(matrix.indptr, np.int64),
            entry_edge.astype(np.int64),
        )

    @cached_property
    def _snap_index(self) -> _SegmentIndex:
        return _SegmentIndex(self)

    def snap(self, lat: float, lon: float, *, max_distance_m: float = MAX_SNAP_DISTANCE_M) -> Snap:
        """Projects a position onto the nearest road edge; raises OffNetwork beyond max distance."""
        check_position(lat, lon)
        return self._snap_index.snap(lat, lon, max_distance_m)

    def road_points(
        self, lat: float, lon: float, *, within_m: float
    ) -> list[tuple[float, float, float, float]]:
        """Every road segment within `within_m`: (lat, lon, distance m, bearing deg) of the
        segment's point nearest the position, nearest first (map matching weighs them)."""
        check_position(lat, lon)
        return self._snap_index.candidates(lat, lon, within_m)

    def snaps_near(self, lat: float, lon: float, *, within_m: float, limit: int) -> list[Snap]:
        """The nearest point of each edge within `within_m`, nearest first, at most `limit`
        edges (the candidate roads of map matching)."""
        check_position(lat, lon)
        return self._snap_index.snaps_near(lat, lon, within_m, limit)


def _edge_csr(keys: IntArray, n: int) -> tuple[IntArray, IntArray]:
    order = np.argsort(keys, kind="stable").astype(np.int64)
    indptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(keys, minlength=n), out=indptr[1:])
    return indptr, order


class _SegmentIndex:
    """Exact nearest-segment search using a k-d tree of points sampled along every segment."""

    def __init__(self, graph: RoadGraph) -> None:
        from scipy.spatial import cKDTree

        self.graph = graph
        x, y = graph.frame.to_metres_many(graph.geom_lat, graph.geom_lon)
        offsets = graph.geom_offsets
        seg_start = np.ones(len(x), np.bool_)
        seg_start[offsets[1:] - 1] = False  # the last point of an edge starts no segment
        starts = np.flatnonzero(seg_start)
        self.ax, self.ay = x[starts], y[starts]
        self.bx, self.by = x[starts + 1], y[starts + 1]
        self.seg_edge = np.searchsorted(offsets, starts, side="right") - 1
        seg_len = np.hypot(self.bx - self.ax, self.by - self.ay)
        # Metres along the polyline where each segment starts, then scaled to the edge length.
        cum = np.concatenate([[0.0], np.cumsum(seg_len)])
        edge_first_seg = np.searchsorted(self.seg_edge, np.arange(graph.edge_count))
        self.seg_along = cum[:-1] - cum[edge_first_seg[self.seg_edge]]
        geom_len = np.bincount(self.seg_edge, seg_len, minlength=graph.edge_count)
        scale = graph.edge_length_m / np.maximum(geom_len, 1e-9)
        self.edge_scale = np.where(geom_len > 0, scale, 0.0)
        self.seg_len = seg_len
        samples = np.maximum(1, np.ceil(seg_len / _SNAP_SAMPLE_M)).astype(np.int64) + 1
        seg_of_sample = np.repeat(np.arange(len(starts)), samples)
        first = np.concatenate([[0], np.cumsum(samples)[:-1]])
        t = (np.arange(len(seg_of_sample)) - first[seg_of_sample]) / (samples[seg_of_sample] - 1)
        px = self.ax[seg_of_sample] + t * (self.bx - self.ax)[seg_of_sample]
        py = self.ay[seg_of_sample] + t * (self.by - self.ay)[seg_of_sample]
        self.sample_seg = seg_of_sample
        self.max_gap = float(np.max(seg_len / (samples - 1))) if len(seg_len) else 0.0
        self.tree = cKDTree(np.column_stack([px, py]))

    def candidates(
        self, lat: float, lon: float, within_m: float
    ) -> list[tuple[float, float, float, float]]:
        qx, qy = self.graph.frame.to_metres(lat, lon)
        segs = self._segments_near(qx, qy, within_m + self.max_gap / 2)
        _, px, py, dist = self._project(qx, qy, segs)
        dx, dy = self.bx[segs] - self.ax[segs], self.by[segs] - self.ay[segs]
        bearing = np.degrees(np.arctan2(dx, dy)) % 360.0
        found = []
        for k in np.argsort(dist):
            if dist[k] > within_m:
                break
            plat, plon = self.graph.frame.to_latlon(float(px[k]), float(py[k]))
            found.append((plat, plon, float(dist[k]), float(bearing[k])))
        return found

    def snaps_near(self, lat: float, lon: float, within_m: float, limit: int) -> list[Snap]:
        qx, qy = self.graph.frame.to_metres(lat, lon)
        segs = self._segments_near(qx, qy, within_m + self.max_gap / 2)
        t, px, py, dist = self._project(qx, qy, segs)
        found: list[Snap] = []
        seen: set[int] = set()
        for k in np.argsort(dist, kind="stable"):
            edge = int(self.seg_edge[segs[k]])
            if dist[k] > within_m or len(found) == limit:
                break
            if edge in seen:
                continue
            seen.add(edge)
            found.append(self._snap_at(int(segs[k]), t[k], px[k], py[k], dist[k], lat, lon))
        return found

    def snap(self, lat: float, lon: float, max_distance_m: float) -> Snap:
        qx, qy = self.graph.frame.to_metres(lat, lon)
        d0, _ = self.tree.query((qx, qy))
        if not math.isfinite(d0) or d0 - self.max_gap / 2 > max_distance_m:
            raise OffNetwork(
                f"position {lat:.6f},{lon:.6f} is more than {max_distance_m:.0f} m from any road"
            )
        segs = self._segments_near(qx, qy, d0 + self.max_gap / 2 + 1e-6)
        t, px, py, dist = self._project(qx, qy, segs)
        best = int(np.argmin(dist))
        if dist[best] > max_distance_m:
            raise OffNetwork(
                f"position {lat:.6f},{lon:.6f} is {dist[best]:.0f} m from the nearest road "
                f"(limit {max_distance_m:.0f} m)"
            )
        return self._snap_at(int(segs[best]), t[best], px[best], py[best], dist[best], lat, lon)

    def _segments_near(self, qx: float, qy: float, radius_m: float) -> IntArray:
        """Every segment with a sample point within `radius_m`: callers widen their radius by half
        the sample gap so no segment passing within their own radius is missed."""
        near = self.tree.query_ball_point((qx, qy), radius_m)
        return np.unique(self.sample_seg[np.asarray(near, np.int64)])

    def _project(
        self, qx: float, qy: float, segs: IntArray
    ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """Each segment's point nearest (qx, qy): its fraction along the segment, x, y, distance."""
        dx, dy = self.bx[segs] - self.ax[segs], self.by[segs] - self.ay[segs]
        denom = np.maximum(dx * dx + dy * dy, 1e-12)
        t = np.clip(((qx - self.ax[segs]) * dx + (qy - self.ay[segs]) * dy) / denom, 0.0, 1.0)
        px, py = self.ax[segs] + t * dx, self.ay[segs] + t * dy
        return t, px, py, np.hypot(px - qx, py - qy)

    def _snap_at(
        self, seg: int, t: float, px: float, py: float, dist: float, lat: float, lon: float
    ) -> Snap:
        """The snap of (lat, lon) onto segment `seg` at fraction `t` (point px, py)."""
        g = self.graph
        edge = int(self.seg_edge[seg])
        along = (self.seg_along[seg] + t * self.seg_len[seg]) * self.edge_scale[edge]
        offset = float(min(max(along, 0.0), g.edge_length_m[edge]))
        plat, plon = g.frame.to_latlon(float(px), float(py))
        return Snap(edge, offset, float(dist), plat, plon, lat, lon)


def load_roads_file(path: Path) -> RoadGraph:
    """Reads a road graph from an OSMnx GraphML, an OSM XML extract or ansim's compact file."""
    from ansim.geo.road_files import read_road_file

    return read_road_file(path)
