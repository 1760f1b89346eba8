"""The live demo's wiring: one clock, one owner of the background work, one unit of work, drills."""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ansim.api.context import AppContext
from ansim.cli import main
from ansim.settings import Settings
from ansim.sim.live import demo_scenario, live_demo
from ansim.sim.runner import throwaway_sqlite
from ansim.store.db import make_engine

NOON = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)


def test_the_demo_city_starts_now_with_the_rate_asked_for() -> None:
    scenario = demo_scenario(rate=120, start=NOON)
    assert scenario.start == NOON
    assert scenario.arrivals.per_hour == 120
    assert scenario.arrivals.first_at_s is not None
    assert (scenario.seed, scenario.pupils) == (112, 24)  # the demo world as it always was
    quiet = demo_scenario(rate=0, start=NOON)
    assert quiet.arrivals.per_hour == 0
    assert quiet.arrivals.first_at_s is None


def test_a_scenario_file_runs_live_from_now_in_its_own_time_zone() -> None:
    path = Path(__file__).resolve().parent.parent / "scenarios" / "short_smoke.yaml"
    scenario = demo_scenario(path=path, start=NOON)
    assert scenario.name == "short_smoke"
    assert scenario.start == NOON
    assert scenario.start.utcoffset() == timedelta(hours=9)
    assert scenario.arrivals.per_hour == 30  # the file's rate when none is asked for


@pytest.mark.parametrize("flags", [["--speed", "0"], ["--rate", "-1"], ["--speed", "fast"]])
def test_the_demo_refuses_a_speed_or_rate_that_makes_no_sense(
    flags: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as refused:
        main(["demo", *flags])
    assert refused.value.code == 2
    assert re.search("must be at least|is not a number", capsys.readouterr().err)


def test_the_simulation_drives_the_served_app_on_its_clock_and_leaves_it_the_loops(
    tmp_path: Path, sqlite_template: Path
) -> None:
    path = tmp_path / "demo.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    engine = throwaway_sqlite(make_engine(url))
    demo = live_demo(
        Settings(database_url=url, demo=True),
        engine,
        scenario=demo_scenario(start=NOON),
        speed=30,
    )
    context: AppContext = demo.app.state.context
    simulation = demo.simulation
    # One clock: the app reads simulation time.
    assert context.now() == simulation.now() == NOON
    # One dependencies object: the simulation drives the app's own Platform (its unit of work,
    # whose commits wake the app's relay like a request's do).
    assert simulation.platform is context.platform
    assert simulation.uow is context.uow
    # One owner: the app's scheduler fires deadlines and its notifier sends; the simulation neither.
    assert simulation.scheduler is None
    assert simulation.notifier is None
    # The demo world is seeded through the app: accounts, cars, pupils with their guardians' phones.
    assert [name for name, _role in demo.world.accounts][:2] == ["dispatcher", "supervisor"]
    assert len(simulation.units) == len(demo.world.units) > 10
    assert len(simulation.guardian_phones) == 2 * len(demo.world.subscribers)
    engine.dispose()
