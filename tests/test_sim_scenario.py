"""The simulator drives the real services; a seeded scenario gives the same summary every time."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ansim.domain.errors import InvalidInput
from ansim.sim.metrics import collect, summarise
from ansim.sim.report import render
from ansim.sim.runner import Simulation, throwaway_sqlite
from ansim.sim.scenario import Scenario, load_scenario
from ansim.store.db import make_engine
from ansim.store.tables import deliveries, incidents, verification_answers

ROOT = Path(__file__).resolve().parent.parent
SAVED = ROOT / "tests" / "fixtures" / "sim" / "short_smoke_summary.json"


@pytest.fixture
def sim_engine(sqlite_template: Path, tmp_path: Path) -> Iterator[Engine]:
    path = tmp_path / "sim.db"
    shutil.copy(sqlite_template, path)
    engine = throwaway_sqlite(make_engine(f"sqlite:///{path}"))
    yield engine
    engine.dispose()


def test_short_scenario_matches_the_saved_summary(sim_engine: Engine) -> None:
    sim = Simulation(load_scenario(ROOT / "scenarios" / "short_smoke.yaml"), sim_engine)
    sim.run()
    summary = summarise(sim)
    assert json.loads(json.dumps(summary)) == json.loads(SAVED.read_text(encoding="utf-8"))
    assert summary["sos"] > 0
    assert summary["arrived"] > 0
    with sim_engine.connect() as conn:
        stored = conn.execute(sa.select(incidents.c.drill)).scalars().all()
        answers = conn.execute(sa.select(verification_answers)).mappings().all()
        sent = conn.execute(sa.select(deliveries.c.channel, deliveries.c.status)).all()
    assert stored
    assert all(stored)
    # Guardians answered as a real guardian does: on the page their message linked to, token checked.
    assert summary["gaps"] == []
    assert answers
    assert {a["source"] for a in answers} == {"guardian_page"}
    assert all(a["actor"] == f"guardian:{a['recipient_id']}" for a in answers)
    # The real notifier sent every queued message, and the phones reported them delivered.
    assert len(sent) == summary["guardians"]["messages"]
    assert set(sent) == {("sms", "delivered")}
    times, _ = collect(sim)
    page = render(sim, times, summary)
    assert page.count("data:image/png;base64,") == 3
    assert "4:20" in page
    assert "5:05" in page
    assert "28 s" in page


def test_the_same_processes_run_in_real_time(sim_engine: Engine) -> None:
    scenario = Scenario.model_validate(
        {
            "name": "tiny",
            "seed": 3,
            "start": "2026-03-02T08:00:00+09:00",
            "duration_min": 1,
            "pupils": 2,
            "arrivals": {"per_hour": 3600},
            "fleet": {"units": 2},
        }
    )
    sim = Simulation(scenario, sim_engine, realtime_speed=300.0)
    sim.run()
    assert summarise(sim)["sos"] > 0


def test_a_scenario_without_a_time_zone_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "name: x\nseed: 1\nstart: '2026-03-02T08:00:00'\nduration_min: 1\narrivals: {per_hour: 1}\n",
        encoding="utf-8",
    )
    with pytest.raises(InvalidInput, match="UTC offset"):
        load_scenario(path)
