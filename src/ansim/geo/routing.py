"""Drive times on the road graph: one reverse Dijkstra from the incident ranks every unit."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from ansim.geo.roads import RoadGraph, Snap

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
# Seed weights must stay positive: a zero would read as "no edge" in a sparse matrix.
_TINY = 1e-9
UNREACHABLE_REASON = "no drivable path: one-way streets or a road piece cut off from the rest"


@dataclass(frozen=True, slots=True)
class Route:
    """A drive from one snapped position to another."""

    seconds: float
    metres: float
    polyline: tuple[tuple[float, float], ...]  # (lat, lon) from source to target
    edges: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class NoRoute:
    """The target cannot be reached from the source on this graph."""

    reason: str


@dataclass(frozen=True, slots=True)
class _Place:
    """One way of standing on a road: an edge and the fraction of it already behind."""

    edge: int
    fraction: float


def _places(graph: RoadGraph, snap: Snap) -> list[_Place]:
    """A snap on a two-way road stands on both directed edges of that road."""
    length = graph.edge_length_m[snap.edge]
    fraction = snap.offset_m / length if length > 0 else 0.0
    places = [_Place(snap.edge, fraction)]
    twin = int(graph.edge_twin[snap.edge])
    if twin >= 0:
        places.append(_Place(twin, 1.0 - fraction))
    return places


@dataclass(frozen=True, slots=True)
class _Tree:
    """Seconds from every node to the target, and each node's next node toward it."""

    seconds: FloatArray
    next_node: IntArray
    seeds: tuple[tuple[_Place, int, float], ...]  # (target place, its start node, seconds)
    virtual: int


def _reverse_tree(graph: RoadGraph, target: Snap) -> _Tree:
    data, indices, indptr, _ = graph.reversed_matrix
    n = graph.node_count
    seeds = []
    best: dict[int, float] = {}
    for place in _places(graph, target):
        node = int(graph.edge_from[place.edge])
        cost = place.fraction * float(graph.edge_seconds[place.edge])
        seeds.append((place, node, cost))
        best[node] = min(best.get(node, math.inf), cost)
    seed_nodes = sorted(best)
    matrix = csr_matrix(
        (
            np.concatenate([data, [max(best[s], _TINY) for s in seed_nodes]]),
            np.concatenate([indices, seed_nodes]).astype(np.int32),
            np.concatenate([indptr, [indptr[-1] + len(seed_nodes)]]).astype(np.int32),
        ),
        shape=(n + 1, n + 1),
    )
    seconds, pred = dijkstra(matrix, directed=True, indices=n, return_predecessors=True)
    seconds = np.asarray(seconds, np.float64)
    for s in seed_nodes:  # undo the positive floor on the seed weights
        seconds[s] = min(seconds[s], best[s])
    return _Tree(seconds, np.asarray(pred, np.int64), tuple(seeds), n)


def _direct_seconds(graph: RoadGraph, source: _Place, target: _Place) -> float:
    if source.edge == target.edge and source.fraction <= target.fraction:
        return (target.fraction - source.fraction) * float(graph.edge_seconds[source.edge])
    return math.inf


def _best_option(
    graph: RoadGraph, tree: _Tree, source: Snap
) -> tuple[float, _Place, _Place | None]:
    """Fastest way out: (seconds, source place, target place when staying on one edge)."""
    best: tuple[float, _Place, _Place | None] = (math.inf, _places(graph, source)[0], None)
    for place in _places(graph, source):
        rest = (1.0 - place.fraction) * float(graph.edge_seconds[place.edge])
        via_node = rest + float(tree.seconds[graph.edge_to[place.edge]])
        if via_node < best[0]:
            best = (via_node, place, None)
        for target, _, _ in tree.seeds:
            direct = _direct_seconds(graph, place, target)
            if direct < best[0]:
                best = (direct, place, target)
    return best


def eta_from_units(
    graph: RoadGraph, target: Snap, unit_positions: Sequence[Snap]
) -> list[float | None]:
    """Drive seconds from each unit to the target (None when unreachable), one Dijkstra in all."""
    tree = _reverse_tree(graph, target)
    if not unit_positions:
        return []
    edges = np.array([u.edge for u in unit_positions], np.int64)
    lengths = graph.edge_length_m[edges]
    offsets = np.array([u.offset_m for u in unit_positions], np.float64)
    fractions = np.where(lengths > 0, offsets / np.maximum(lengths, _TINY), 0.0)
    best = (1.0 - fractions) * graph.edge_seconds[edges] + tree.seconds[graph.edge_to[edges]]
    twins = graph.edge_twin[edges]
    has_twin = twins >= 0
    tw = np.where(has_twin, twins, 0)
    via_twin = fractions * graph.edge_seconds[tw] + tree.seconds[graph.edge_to[tw]]
    best = np.where(has_twin, np.minimum(best, via_twin), best)
    for place, _, _ in tree.seeds:  # a unit already on the target's road, behind it
        for unit_edge, unit_fraction in ((edges, fractions), (twins, 1.0 - fractions)):
            ahead = (unit_edge == place.edge) & (unit_fraction <= place.fraction)
            direct = (place.fraction - unit_fraction) * float(graph.edge_seconds[place.edge])
            best = np.where(ahead, np.minimum(best, direct), best)
    return [float(s) if math.isfinite(s) else None for s in best.tolist()]


def route(graph: RoadGraph, source: Snap, target: Snap) -> Route | NoRoute:
    """The fastest drive from source to target, or NoRoute with the reason."""
    tree = _reverse_tree(graph, target)
    seconds, start, direct_target = _best_option(graph, tree, source)
    if not math.isfinite(seconds):
        return NoRoute(UNREACHABLE_REASON)
    if direct_target is not None:
        line = _cut(graph, start.edge, start.fraction, direct_target.fraction)
        metres = (direct_target.fraction - start.fraction) * float(graph.edge_length_m[start.edge])
        return Route(seconds, metres, tuple(line), (start.edge,))
    path_edges = [start.edge]
    line = _cut(graph, start.edge, start.fraction, 1.0)
    metres = (1.0 - start.fraction) * float(graph.edge_length_m[start.edge])
    node = int(graph.edge_to[start.edge])
    while True:
        nxt = int(tree.next_node[node])
        if nxt == tree.virtual or nxt < 0:
            break
        edge = _forward_edge(graph, node, nxt)
        path_edges.append(edge)
        line.extend(graph.edge_polyline(edge)[1:])
        metres += float(graph.edge_length_m[edge])
        node = nxt
    end = min((s for s in tree.seeds if s[1] == node), key=lambda s: s[2], default=None)
    if end is None:
        return NoRoute(UNREACHABLE_REASON)
    place = end[0]
    path_edges.append(place.edge)
    line.extend(_cut(graph, place.edge, 0.0, place.fraction)[1:])
    metres += place.fraction * float(graph.edge_length_m[place.edge])
    return Route(seconds, metres, tuple(line), tuple(path_edges))


def _forward_edge(graph: RoadGraph, node: int, nxt: int) -> int:
    """The edge node -> nxt the shortest-path tree used (stored at reversed row nxt)."""
    _, indices, indptr, entry_edge = graph.reversed_matrix
    lo, hi = int(indptr[nxt]), int(indptr[nxt + 1])
    at = lo + int(np.searchsorted(indices[lo:hi], node))
    return int(entry_edge[at])


def _cut(graph: RoadGraph, edge: int, start: float, end: float) -> list[tuple[float, float]]:
    """The part of an edge's polyline between two fractions of its length."""
    points = graph.edge_polyline(edge)
    xy = np.array([graph.frame.to_metres(lat, lon) for lat, lon in points])
    cum = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(xy, axis=0).T))])
    total = cum[-1]

    def at(fraction: float) -> tuple[float, float]:
        if total <= 0:
            return points[0]
        x = float(np.interp(fraction * total, cum, xy[:, 0]))
        y = float(np.interp(fraction * total, cum, xy[:, 1]))
        return graph.frame.to_latlon(x, y)

    inner = [points[i] for i in range(len(points)) if start * total < cum[i] < end * total]
    return [at(start), *inner, at(end)]
