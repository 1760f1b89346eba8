import random
from pathlib import Path

import networkx as nx
import pytest

from ansim.geo.demo_data import load_road_graph
from ansim.geo.roads import RoadGraph, Snap
from ansim.geo.routing import NoRoute, Route, eta_from_units, route
from roadkit import at, build

# West-east street: 1 -- 2 two-way residential, then 2 -> 3 one-way residential.
# Node 5 hangs off a one-way street that only leaves it (5 -> 1): reachable from, not to.
NODES = {
    1: (0.0, 0.0),
    2: (100.0, 0.0),
    3: (200.0, 0.0),
    5: (0.0, 100.0),
    8: (400.0, 0.0),
    9: (500.0, 0.0),
}
WAYS = [
    ([1, 2], {"highway": "residential"}),
    ([2, 3], {"highway": "residential", "oneway": "yes"}),
    ([5, 1], {"highway": "residential", "oneway": "yes"}),
    ([8, 9], {"highway": "residential"}),  # an island with no link to the rest
]


@pytest.fixture
def graph(tmp_path: Path) -> RoadGraph:
    return build(tmp_path, NODES, WAYS)


def seconds_per_metre(graph: RoadGraph) -> float:
    return float(graph.edge_seconds[0] / graph.edge_length_m[0])


def test_partial_edges_count_at_both_ends(graph: RoadGraph) -> None:
    source, target = graph.snap(*at(25.0, 3.0)), graph.snap(*at(150.0, -3.0))
    found = route(graph, source, target)
    assert isinstance(found, Route)
    assert found.metres == pytest.approx(125.0, abs=0.5)
    assert found.seconds == pytest.approx(125.0 * seconds_per_metre(graph), rel=5e-3)
    assert found.polyline[0] == pytest.approx(at(25.0, 0.0), abs=1e-6)
    assert found.polyline[-1] == pytest.approx(at(150.0, 0.0), abs=1e-6)
    assert eta_from_units(graph, target, [source]) == [pytest.approx(found.seconds)]


def test_two_way_street_is_driven_either_way_on_one_edge(graph: RoadGraph) -> None:
    west, east = graph.snap(*at(20.0, 0.0)), graph.snap(*at(80.0, 0.0))
    for source, target in ((west, east), (east, west)):
        found = route(graph, source, target)
        assert isinstance(found, Route)
        assert found.metres == pytest.approx(60.0, abs=0.5)
        assert len(found.edges) == 1


def test_one_way_street_is_not_driven_backwards(graph: RoadGraph) -> None:
    upstream, downstream = graph.snap(*at(120.0, 0.0)), graph.snap(*at(180.0, 0.0))
    assert isinstance(route(graph, upstream, downstream), Route)
    backwards = route(graph, downstream, upstream)
    assert isinstance(backwards, NoRoute)
    assert "one-way" in backwards.reason
    assert eta_from_units(graph, upstream, [downstream]) == [None]


def test_units_on_an_island_or_behind_a_one_way_get_none(graph: RoadGraph) -> None:
    target = graph.snap(*at(50.0, 0.0))
    on_feeder = graph.snap(*at(0.0, 50.0))  # on 5 -> 1, flows into the street: reachable
    island = graph.snap(*at(450.0, 0.0))
    etas = eta_from_units(graph, target, [on_feeder, island])
    assert etas[0] is not None
    assert etas[0] == pytest.approx(100.0 * seconds_per_metre(graph), rel=5e-3)
    assert etas[1] is None
    # The feeder street only leaves node 5, so nothing drives to it.
    assert eta_from_units(graph, on_feeder, [target]) == [None]
    assert eta_from_units(graph, target, []) == []


def _networkx_seconds(graph: RoadGraph, nxg: nx.DiGraph, a: Snap, b: Snap) -> float | None:
    def places(s: Snap) -> list[tuple[int, float]]:
        f = s.offset_m / graph.edge_length_m[s.edge]
        twin = int(graph.edge_twin[s.edge])
        return [(s.edge, f)] + ([(twin, 1 - f)] if twin >= 0 else [])

    best = float("inf")
    for ea, fa in places(a):
        for eb, fb in places(b):
            if ea == eb and fa <= fb:
                best = min(best, (fb - fa) * graph.edge_seconds[ea])
            try:
                middle = nx.dijkstra_path_length(
                    nxg, int(graph.edge_to[ea]), int(graph.edge_from[eb]), weight="w"
                )
            except nx.NetworkXNoPath:
                continue
            best = min(
                best, (1 - fa) * graph.edge_seconds[ea] + middle + fb * graph.edge_seconds[eb]
            )
    return None if best == float("inf") else float(best)


def test_agrees_with_networkx_on_the_seoul_graph() -> None:
    graph = load_road_graph()
    nxg = nx.DiGraph()
    for e in range(graph.edge_count):
        u, v, w = int(graph.edge_from[e]), int(graph.edge_to[e]), float(graph.edge_seconds[e])
        if not nxg.has_edge(u, v) or nxg[u][v]["w"] > w:
            nxg.add_edge(u, v, w=w)
    rng = random.Random(7)

    def somewhere() -> Snap:
        i = rng.randrange(graph.node_count)
        return graph.snap(
            graph.node_lat[i] + rng.uniform(-0.001, 0.001),
            graph.node_lon[i] + rng.uniform(-0.001, 0.001),
        )

    target = somewhere()
    units = [somewhere() for _ in range(25)]
    etas = eta_from_units(graph, target, units)
    for unit, eta in zip(units, etas, strict=True):
        expected = _networkx_seconds(graph, nxg, unit, target)
        assert (eta is None) == (expected is None)
        if eta is not None:
            assert eta == pytest.approx(expected, rel=1e-9)
            found = route(graph, unit, target)
            assert isinstance(found, Route)
            assert found.seconds == pytest.approx(eta)
            assert sum(graph.edge_seconds[e] for e in found.edges[1:-1]) <= eta
            assert found.metres > 0 or eta < 1.0
