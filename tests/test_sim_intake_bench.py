"""The intake benchmark's smoke mode runs end to end, so the benchmark does not rot."""

from __future__ import annotations

import pytest

from ansim.sim import intake_bench


@pytest.mark.slow
def test_intake_bench_smoke_measures_every_column() -> None:
    (result,) = intake_bench.run_backend("sqlite", rates=(10.0,), seconds=0.5, fixes=20)
    assert result.sent == 5
    assert result.failed == 0
    assert result.board_ms["p50"] > 0
    assert result.board_ms["p99"] >= result.board_ms["p50"]
    assert result.ceiling_per_s > 0
    assert result.platform_max_per_s > 0
    assert set(result.fixes_per_s) == {1, 100}
    assert min(result.fixes_per_s.values()) > 0
    table = intake_bench.format_table([result])
    assert table.count("\n") == 2
    assert "| sqlite |" in table
