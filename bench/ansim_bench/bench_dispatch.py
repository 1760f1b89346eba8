"""Benchmark of unit ranking by road ETA: latency against networkx, and gain over straight line."""

from __future__ import annotations

import math
import random
import statistics
import time
from collections.abc import Callable

import numpy as np

from ansim.geo.demo_data import load_road_graph
from ansim.geo.geodesy import LocalFrame, haversine_m
from ansim.geo.roads import OffNetwork, RoadGraph, Snap
from ansim.geo.routing import eta_from_units

GRID_SPACING_M = 100.0
# Seoul fields about 805 patrol cars over 605 km², about 1.3 per km²; the demo map is ~25 km².
PATROL_CARS_ON_DEMO_MAP = 33
P99_TARGET_MS = 20.0


def grid_graph(side: int, *, seed: int = 1) -> RoadGraph:
    """A grid of side x side junctions: every 5th street an arterial, some side streets one-way."""
    frame = LocalFrame(37.50, 127.00)
    rng = random.Random(seed)
    idx = np.arange(side * side).reshape(side, side)
    east, north = np.meshgrid(np.arange(side) * GRID_SPACING_M, np.arange(side) * GRID_SPACING_M)
    lat, lon = frame.to_latlon_many(east.ravel(), north.ravel())
    froms: list[int] = []
    tos: list[int] = []
    classes: list[str] = []
    oneway: list[bool] = []
    for line in range(side):
        highway = "secondary" if line % 5 == 0 else "residential"
        single = highway == "residential" and rng.random() < 0.2
        for a, b in ((idx[line, :-1], idx[line, 1:]), (idx[:-1, line], idx[1:, line])):
            for u, v in zip(a.tolist(), b.tolist(), strict=True):
                froms.append(u)
                tos.append(v)
                classes.append(highway)
                oneway.append(single)
                if not single:
                    froms.append(v)
                    tos.append(u)
                    classes.append(highway)
                    oneway.append(False)
    u_arr, v_arr = np.array(froms), np.array(tos)
    geom_lat = np.column_stack([lat[u_arr], lat[v_arr]]).ravel()
    geom_lon = np.column_stack([lon[u_arr], lon[v_arr]]).ravel()
    return RoadGraph(
        node_ids=np.arange(side * side),
        node_lat=lat,
        node_lon=lon,
        edge_from=u_arr,
        edge_to=v_arr,
        edge_length_m=np.full(len(froms), GRID_SPACING_M),
        edge_highway=classes,
        edge_oneway=oneway,
        edge_maxspeed_kmh=np.full(len(froms), math.nan),
        edge_name=[""] * len(froms),
        geom_offsets=np.arange(0, 2 * len(froms) + 1, 2),
        geom_lat=geom_lat,
        geom_lon=geom_lon,
    )


def _random_snaps(graph: RoadGraph, count: int, rng: random.Random) -> list[Snap]:
    snaps: list[Snap] = []
    while len(snaps) < count:
        i = rng.randrange(graph.node_count)
        try:
            snaps.append(
                graph.snap(
                    float(graph.node_lat[i]) + rng.uniform(-5e-4, 5e-4),
                    float(graph.node_lon[i]) + rng.uniform(-5e-4, 5e-4),
                )
            )
        except OffNetwork:
            continue
    return snaps


def _timed(fn: Callable[[], object], repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return times


def _p99(values: list[float]) -> float:
    return float(np.percentile(values, 99))


def _networkx_ranking(
    graph: RoadGraph, repeats: int, targets: list[Snap], units: list[Snap]
) -> list[float]:
    import networkx as nx

    reverse = nx.DiGraph()
    for e in range(graph.edge_count):
        u, v, w = int(graph.edge_to[e]), int(graph.edge_from[e]), float(graph.edge_seconds[e])
        if not reverse.has_edge(u, v) or reverse[u][v]["w"] > w:
            reverse.add_edge(u, v, w=w)
    unit_nodes = [int(graph.edge_to[u.edge]) for u in units]

    def rank(target: Snap) -> None:
        dist = nx.single_source_dijkstra_path_length(
            reverse, int(graph.edge_from[target.edge]), weight="w"
        )
        sorted((dist.get(n, math.inf), i) for i, n in enumerate(unit_nodes))

    times = []
    for k in range(repeats):
        start = time.perf_counter()
        rank(targets[k % len(targets)])
        times.append((time.perf_counter() - start) * 1000)
    return times


def _latency_row(
    name: str, graph: RoadGraph, repeats: int, rng: random.Random
) -> tuple[str, float]:
    units = _random_snaps(graph, 1000, rng)
    targets = _random_snaps(graph, repeats, rng)

    def ours_rank(target: Snap) -> None:
        etas = eta_from_units(graph, target, units)
        sorted((e if e is not None else math.inf, i) for i, e in enumerate(etas))

    eta_from_units(graph, targets[0], units)  # build the cached matrices once
    queue = iter(targets * 2)
    ours = _timed(lambda: ours_rank(next(queue)), repeats)
    theirs = _networkx_ranking(graph, max(3, repeats // 3), targets, units)
    ratio = statistics.median(theirs) / statistics.median(ours)
    row = (
        f"| {name} | {graph.node_count:,} | {graph.edge_count:,} | "
        f"{statistics.median(ours):.1f} | {_p99(ours):.1f} | "
        f"{statistics.median(theirs):.1f} | {ratio:.1f}x |"
    )
    return row, _p99(ours)


def _choice_rows(graph: RoadGraph, incidents: int, rng: random.Random) -> list[str]:
    eta_wins, gains, chosen_eta, chosen_line = 0, [], [], []
    units = _random_snaps(graph, PATROL_CARS_ON_DEMO_MAP, rng)
    for target in _random_snaps(graph, incidents, rng):
        etas = [math.inf if e is None else e for e in eta_from_units(graph, target, units)]
        best = min(etas)
        if not math.isfinite(best):
            continue
        by_line = sorted(
            range(len(units)),
            key=lambda i: haversine_m(units[i].lat, units[i].lon, target.lat, target.lon),
        )
        line_pick = next(etas[i] for i in by_line if math.isfinite(etas[i]))
        chosen_eta.append(best)
        chosen_line.append(line_pick)
        eta_wins += line_pick > best + 1e-9
        gains.append((line_pick - best) / line_pick if line_pick > 0 else 0.0)
    n = len(chosen_eta)
    mean_eta, mean_line = statistics.fmean(chosen_eta), statistics.fmean(chosen_line)
    advantage = 100 * (mean_line - mean_eta) / mean_line
    saving = 100 * statistics.fmean([g for g in gains if g > 0] or [0.0])
    return [
        f"| incidents (reachable) | {n:,} |",
        f"| patrol cars on the map | {len(units)} |",
        f"| mean arrival, nearest by ETA | {mean_eta:.0f} s |",
        f"| mean arrival, nearest by straight line | {mean_line:.0f} s |",
        f"| mean arrival time advantage of ETA choice | {advantage:.1f} % |",
        f"| incidents where the choice differs | {100 * eta_wins / n:.1f} % |",
        f"| mean saving where it differs | {saving:.1f} % |",
    ]


def run(smoke: bool) -> str:
    """Runs the dispatch benchmark and returns its Markdown tables (smoke: quick and small)."""
    rng = random.Random(2024)
    seoul = load_road_graph()
    grid = grid_graph(60 if smoke else 224)
    repeats = 5 if smoke else 40
    seoul_row, _ = _latency_row("Seoul centre (OSM)", seoul, repeats, rng)
    grid_row, grid_p99 = _latency_row("synthetic grid", grid, repeats, rng)
    verdict = "met" if grid_p99 < P99_TARGET_MS else "missed"
    lines = [
        "Ranking 1,000 units by road ETA for one incident (one reverse Dijkstra), in ms:",
        "",
        "| graph | nodes | edges | ansim median | ansim p99 | networkx median | ratio |",
        "|---|---:|---:|---:|---:|---:|---:|",
        seoul_row,
        grid_row,
        "",
        f"Target p99 < {P99_TARGET_MS:.0f} ms on the {grid.node_count:,}-node grid: {verdict} "
        f"({grid_p99:.1f} ms).",
        "",
        "Nearest unit by road ETA against nearest by straight line (Seoul centre):",
        "",
        "| measure | value |",
        "|---|---:|",
        *_choice_rows(seoul, 100 if smoke else 3000, rng),
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(run(smoke=False))
