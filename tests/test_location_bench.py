import math

from ansim.sim.location_bench import run


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
