import itertools
import math

import numpy as np
import pytest

from ansim.domain.fixes import FixMethod
from ansim.sim.location_traces import T0, synthetic_trace
from ansim_bench.location_bench import run, worst_of
from ansim_bench.location_errors import INDOORS, OUTDOORS, draw_persistent_fixes
from ansim_bench.location_roads import RoadTraces


def test_small_run_reports_every_row_with_sane_numbers() -> None:
    result = run(traces=2, seed=3)
    table = result.format_table()
    assert [s.name for s in result.scenarios] == ["still", "walk", "car", "all"]
    for name in (
        "| still |",
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
    assert result.scenario("all").looks == sum(
        result.scenario(k).looks for k in ("still", "walk", "car")
    )
    assert result.scenario("still").exact_last_fix.p90_m == 0.0  # nobody moved


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


def test_persistent_errors_have_honest_radii_but_persist_in_time() -> None:
    """Over the population each method's circles hold the truth ~95 % (1 % gross outliers
    excepted), yet consecutive Wi-Fi errors are nearly the same: only persistence is hidden."""
    rng = np.random.default_rng(6)
    inside: dict[FixMethod, list[bool]] = {}
    pairs: list[tuple[float, float]] = []
    for _ in range(200):
        trace = synthetic_trace("still", rng, duration_s=300)
        previous = None
        for item in draw_persistent_fixes(trace, rng, INDOORS, late_share=0.0):
            fix = item.fix
            east, north = trace.to_local(fix.lat, fix.lon)
            inside.setdefault(fix.method, []).append(np.hypot(east, north) <= fix.radius_m)
            if fix.method is FixMethod.WIFI and abs(east) < 500:  # gross outliers aside
                if previous is not None:
                    pairs.append((previous, east))
                previous = east
    for method in (FixMethod.WIFI, FixMethod.GNSS):
        assert 0.92 <= float(np.mean(inside[method])) <= 0.97, method
    first, second = np.array(pairs).T
    assert np.corrcoef(first, second)[0, 1] > 0.6  # an independent model would give ~0


def test_outdoor_gnss_errors_are_correlated_over_tens_of_seconds() -> None:
    rng = np.random.default_rng(2)
    gnss = {FixMethod.GNSS: OUTDOORS[FixMethod.GNSS]}
    pairs = []
    for _ in range(20):
        trace = synthetic_trace("walk", rng)
        errors = []
        for item in draw_persistent_fixes(trace, rng, gnss, outlier_share=0.0, late_share=0.0):
            east, _ = trace.to_local(item.fix.lat, item.fix.lon)
            truth_east, _ = trace.position((item.fix.observed_at - T0).total_seconds())
            errors.append(east - truth_east)
        pairs += list(itertools.pairwise(errors))
    lagged = np.corrcoef(np.array(pairs).T)[0, 1]
    assert lagged > 0.3  # fixes 5-30 s apart share most of a 45 s AR(1) error


def test_the_persistent_model_reports_fix_coverage_and_a_worst_seed_summary() -> None:
    results = [run(traces=1, seed=s, errors="persistent", kinds=("still",)) for s in (1, 2)]
    table = results[0].format_table()
    assert "persistent errors" in table
    assert "wifi" in table
    summary = worst_of(results)
    assert "| persistent | still |" in summary
    assert "(seed " in summary


def test_road_points_list_the_segments_near_a_position_nearest_first() -> None:
    source = RoadTraces()
    found = source.road_points(37.5663, 126.9779)  # Seoul City Hall
    assert len(found) > 3
    distances = [d for _, _, d, _ in found]
    assert distances == sorted(distances)
    assert all(0 <= d <= 150 for d in distances)
    assert all(0 <= bearing < 360 for *_, bearing in found)
    nearest = source.graph.snap(37.5663, 126.9779)
    assert distances[0] == pytest.approx(nearest.distance_m, abs=0.5)
