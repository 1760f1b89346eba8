"""The scale benchmark's smoke mode runs end to end and its figures hold together."""

from __future__ import annotations

import pytest

from ansim_bench import scale_bench
from ansim_bench.scale_world import Population


def test_a_population_gives_everyone_a_distinct_number_and_spreads_the_terminals() -> None:
    population = Population(1_000_000, 100_000)
    numbers = {population.phone(i) for i in range(0, 1_000_000, 7)}
    assert len(numbers) == len(range(0, 1_000_000, 7))
    assert all(n.startswith("+8210") and len(n) == 13 for n in numbers)
    assert (
        population.local_phone(3)
        == "010-" + population.phone(3)[5:9] + "-" + population.phone(3)[9:]
    )
    owners = {population.terminal_owner(j) for j in range(population.terminals)}
    assert len(owners) == population.terminals
    assert max(owners) < population.subscribers
    assert population.subscriber_id(5) == population.subscriber_id(5) != population.subscriber_id(6)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgres":
        request.getfixturevalue("postgres_template")  # skips (or fails in CI) without PostgreSQL
    return str(request.param)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_scale_bench_smoke_finds_everyone_and_accepts_every_heartbeat(backend: str) -> None:
    (result,) = scale_bench.run(smoke=True, backends=(backend,))
    sizes = scale_bench.SMOKE
    assert result.timing.rows["subscribers"] == sizes.subscribers
    assert result.timing.rows["terminals"] == result.timing.rows["deadlines"] == sizes.terminals
    assert result.timing.rows["channel_bindings"] == sizes.subscribers + sizes.terminals
    assert sizes.subscribers <= result.timing.rows["guardians"] <= 2 * sizes.subscribers
    for size in ("big", "small"):
        # Every caller drawn at random was found, in-process and through the carrier gateway.
        assert result.lookup[size].count == result.lookup[size].right == sizes.lookups
        assert result.carrier[size].count == result.carrier[size].right == sizes.calls
        assert 0 < result.lookup[size].p50_ms <= result.lookup[size].p99_ms
    heartbeat = result.heartbeat
    assert heartbeat.sent == heartbeat.accepted > 0
    assert heartbeat.mismatched_terminals == 0  # every terminal stored the sequence it last sent
    # One pending deadline per terminal, moved in place: no row is left behind per heartbeat.
    assert heartbeat.pending_deadlines == heartbeat.deadline_rows == sizes.terminals
    assert heartbeat.per_s > 0
    assert result.bare_per_s > 0
    assert result.healthz_per_s > 0
    assert 0 < result.rss_mb["idle"] <= result.rss_mb["peak"]
    assert result.rss_mb["after"] <= result.rss_mb["peak"]
    assert result.database_mb > 0
    table = scale_bench.format_table([result])
    assert table.splitlines()[0] == f"| | {backend} |"
    assert "| ratio sustained / needed |" in table
