"""The intake benchmark's smoke mode runs end to end, so the benchmark does not rot."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from ansim.store.tables import location_fixes, location_tracks, outbox
from ansim_bench import fix_bench, intake_bench
from ansim_bench.bench_db import demo_keys, scratch_database


@pytest.mark.slow
def test_intake_bench_smoke_measures_every_column() -> None:
    (result,) = intake_bench.run_backend("sqlite", rates=(10.0,), seconds=0.5, fixes=20)
    assert result.sent == 5
    assert result.failed == 0
    assert result.board_ms["p50"] > 0
    assert result.board_ms["p99"] >= result.board_ms["p50"]
    assert result.ceiling_per_s > 0
    assert result.platform_max_per_s > 0
    assert set(result.fixes_per_s) == {1, 50, 100}
    assert min(result.fixes_per_s.values()) > 0
    table = intake_bench.format_table([result])
    assert table.count("\n") == 2
    assert "| sqlite |" in table


@pytest.mark.slow
def test_fix_bench_stores_and_fuses_every_fix_one_event_per_batch() -> None:
    demo_keys()
    with scratch_database("sqlite") as url:
        throughput = fix_bench.fix_rate(url, batch=50, total=120)
        assert throughput.per_s > 0
        assert throughput.cpu_us > 0
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            verdicts = conn.execute(sa.select(location_fixes.c.verdict)).scalars().all()
            located = conn.execute(
                sa.select(sa.func.count()).where(outbox.c.type == "incident.located")
            ).scalar_one()
            tracks = conn.execute(sa.select(sa.func.count()).select_from(location_tracks))
            assert tracks.scalar_one() == 1
        engine.dispose()
    assert len(verdicts) == 120
    assert verdicts.count("accepted") >= 115  # a walker's fixes: a rare one gated as an outlier
    assert located == 3  # batches of 50, 50 and 20


@pytest.mark.slow
def test_fix_bench_smoke_reports_each_batch_size_against_the_target() -> None:
    results = fix_bench.run(smoke=True, backends=("sqlite",))
    assert [r.batch for r in results] == list(fix_bench.BATCHES)
    assert all(r.median > 0 for r in results)
    table = fix_bench.format_table(results)
    assert table.count("\n") == 1 + len(fix_bench.BATCHES)
    assert "2,000 target" in table
