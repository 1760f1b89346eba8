import math

import numpy as np

from ansim.sim.location_bench import run
from ansim.sim.location_roads import RoadTraces


def test_small_run_reports_every_row_with_sane_numbers() -> None:
    result = run(traces=2, seed=3)
    table = result.format_table()
    assert [s.name for s in result.scenarios] == ["walk", "car", "all"]
    for name in (
        "| walk |",
        "| car |",
        "| all |",
        "(a) latest fix",
        "(b) best fix 30 s",
        "(c) fused",
        "inside 95 %",
        "median area",
    ):
        assert name in table
    for s in result.scenarios:
        assert s.looks > 0
        for stats in (s.latest_fix, s.best_recent_fix, s.fused, s.exact_last_fix):
            assert math.isfinite(stats.median_m)
            assert 0 <= stats.median_m <= stats.p90_m < 20_000
        assert 0.5 <= s.calibration <= 1.0
        assert 0 < s.median_area_m2 < 1e8
    assert (
        result.scenario("all").looks == result.scenario("walk").looks + result.scenario("car").looks
    )


def test_is_deterministic_for_a_seed() -> None:
    assert run(traces=1, seed=9) == run(traces=1, seed=9)


def test_road_traces_follow_the_seoul_network_from_a_school() -> None:
    source = RoadTraces()
    rng = np.random.default_rng(4)
    walk, car = source("walk", rng), source("car", rng)
    assert any((s.lat, s.lon) == walk.origin for s in source.schools)
    walked = float(np.hypot(np.diff(walk.east), np.diff(walk.north)).sum())
    driven = float(np.hypot(np.diff(car.east), np.diff(car.north)).sum())
    assert 300 < walked < 1000  # 10 min at 1.1-1.5 m/s with pauses
    assert driven > 2 * walked
    assert float(np.hypot(np.diff(car.east), np.diff(car.north)).max()) <= 15.0  # m/s cap
    # Every true car position lies on a road of the graph.
    for t in range(200, car.duration_s, 97):
        lat, lon = car.to_wgs84(*car.position(t))
        assert source.graph.snap(lat, lon).distance_m < 5.0


def test_a_smoke_run_on_the_road_network_reports_sane_figures() -> None:
    result = run(traces=1, seed=2, source=RoadTraces(), source_name="Seoul roads")
    assert "Seoul roads" in result.format_table()
    assert result.scenario("all").looks > 100
