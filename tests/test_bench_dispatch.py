import pytest

from ansim.geo.routing import eta_from_units
from ansim_bench.bench_dispatch import grid_graph


def test_grid_graph_routes_along_manhattan_distance() -> None:
    graph = grid_graph(12)
    assert graph.node_count == 144
    corner = graph.snap(float(graph.node_lat[0]), float(graph.node_lon[0]))
    # Node 0 and node 11 sit on row 0, an arterial (every 5th street) that is two-way.
    far = graph.snap(float(graph.node_lat[11]), float(graph.node_lon[11]))
    (eta,) = eta_from_units(graph, far, [corner])
    assert eta is not None
    assert eta == pytest.approx(graph.edge_seconds[0] * 11, rel=0.02)


def test_the_smoke_benchmark_prints_both_tables() -> None:
    from ansim_bench import bench_dispatch

    table = bench_dispatch.run(smoke=True)
    assert "| Seoul centre (OSM) | 3,384 |" in table
    assert "| synthetic grid | 3,600 |" in table
    assert "Target p99 < 20 ms" in table
    assert "mean arrival time advantage of ETA choice" in table
