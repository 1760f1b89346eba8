"""The board in a surge, measured in chromium: from a WebSocket message's arrival in the page to the
DOM update it causes (board.js records it when localStorage["ansim.perf"] is "1").

Default: a smoke run (80 open incidents, 60 units, 150 messages) that checks the measure works and
the board keeps up. ANSIM_SURGE_BENCH=1: the issue's surge, 500 open incidents and 300 units, with
the target p99 ≤ 200 ms; the figures are printed for docs/benchmarks.md.
"""

from __future__ import annotations

import os
import random
import shutil
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.factories import PASSWORD, World, build_world
from tests.live import LiveServer, serving

from ansim.api.app import create_app
from ansim.domain.incidents import Channel, Incident, IncidentStatus, PriorityCode
from ansim.domain.units import Unit, UnitStatus
from ansim.services.unit_commands import do_report_unit_position
from ansim.settings import Settings
from ansim.store.db import make_engine, make_session_factory
from ansim.store.uow import UnitOfWork

pytestmark = pytest.mark.browser
FULL = os.environ.get("ANSIM_SURGE_BENCH") == "1"
INCIDENTS, UNITS, MESSAGES = (500, 300, 600) if FULL else (80, 60, 150)
TARGET_P99_MS = 200 if FULL else 1000  # the smoke run shares two cores with other tests
CITY_HALL = (37.5665, 126.978)


@pytest.fixture
def surge(tmp_path: Path, sqlite_template: Path) -> Iterator[tuple[LiveServer, World, list[str]]]:
    path = tmp_path / "surge.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    world = build_world(engine)
    rng = random.Random(500)
    with serving(create_app(Settings(database_url=url, outbox_poll_s=0.02), engine=engine)) as live:
        now = live.app.state.context.now()
        unit_ids: list[str] = []
        with UnitOfWork(make_session_factory(engine)).begin() as session:
            for n in range(UNITS):
                unit = Unit(
                    id=str(uuid.uuid4()),
                    call_sign=f"급증{n:03d}",
                    station_id=world.station_id,
                    status=UnitStatus.AVAILABLE,
                    status_at=now,
                    lat=CITY_HALL[0] + rng.uniform(-0.008, 0.008),
                    lon=CITY_HALL[1] + rng.uniform(-0.008, 0.008),
                    position_at=now,
                )
                session.add(unit)
                unit_ids.append(unit.id)
            for n in range(INCIDENTS):
                pressed = now - timedelta(seconds=rng.uniform(0, 1800))
                session.add(
                    Incident(
                        id=str(uuid.uuid4()),
                        channel=rng.choice(list(Channel)),
                        status=rng.choice([IncidentStatus.RECEIVED, IncidentStatus.DISPATCHED]),
                        priority=PriorityCode(rng.randint(0, 4)),
                        received_at=pressed,
                        updated_at=pressed,
                        caller_number=f"+8210{n:08d}",
                        lat=CITY_HALL[0] + rng.uniform(-0.01, 0.01),
                        lon=CITY_HALL[1] + rng.uniform(-0.01, 0.01),
                        radius_m=rng.uniform(10, 300),
                        location_method="gnss",
                        located_at=pressed,
                        drill=n % 7 == 0,
                    )
                )
        yield live, world, unit_ids
    engine.dispose()


def test_the_board_keeps_up_in_a_surge(
    surge: tuple[LiveServer, World, list[str]], chromium: Any
) -> None:
    live, _world, unit_ids = surge
    context = chromium.new_context(locale="ko-KR", viewport={"width": 1600, "height": 1000})
    context.add_init_script("localStorage.setItem('ansim.perf', '1')")
    page = context.new_page()
    answer = page.request.post(
        f"{live.url}/api/v1/session", data={"username": "dispatcher", "password": PASSWORD}
    )
    assert answer.ok
    page.goto(f"{live.url}/board")
    page.wait_for_selector("[data-testid=live].on", timeout=15000)
    page.locator("[data-testid=queue-item]").nth(50).wait_for(timeout=15000)
    page.locator("path.unit-marker").nth(UNITS - 1).wait_for(state="attached", timeout=15000)

    platform = live.app.state.context.platform
    rng = random.Random(7)
    supervisor = httpx.post(
        f"{live.url}/api/v1/session", json={"username": "supervisor", "password": PASSWORD}
    ).json()["token"]
    open_ids: list[str] = page.eval_on_selector_all(
        "[data-testid=queue-item]", "items => items.map((i) => i.dataset.incidentId)"
    )
    started = time.monotonic()
    for n in range(MESSAGES):
        if n % 50 == 25:  # now and then a code change: the queue is fetched and redrawn
            httpx.post(
                f"{live.url}/api/v1/incidents/{open_ids[n % len(open_ids)]}/priority",
                json={"priority": 0, "reason": "급증 시험"},
                headers={"Authorization": f"Bearer {supervisor}"},
            )
        else:  # a car's position report (AVL), through the command the MDT's report takes
            do_report_unit_position(
                platform,
                unit_id=rng.choice(unit_ids),
                lat=CITY_HALL[0] + rng.uniform(-0.008, 0.008),
                lon=CITY_HALL[1] + rng.uniform(-0.008, 0.008),
            )
        time.sleep(0.02)
    sent_s = time.monotonic() - started
    page.wait_for_function(
        f"() => window.ansimPerf && window.ansimPerf.length >= {int(MESSAGES * 0.95)}",
        timeout=60000,
    )
    page.wait_for_timeout(1000)
    samples: list[float] = sorted(page.evaluate("window.ansimPerf"))
    p50 = samples[len(samples) // 2]
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
    print(
        f"\nsurge: {INCIDENTS} open incidents, {UNITS} units, {len(samples)} messages in "
        f"{sent_s:.1f} s: WS message -> DOM p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {samples[-1]:.1f} ms"
    )
    timing = page.evaluate(
        """async () => {
          const out = {};
          for (const path of ['/api/v1/incidents?active=true', '/api/v1/units']) {
            const t = performance.now(); await fetch(path); out[path] = performance.now() - t;
          }
          return out;
        }"""
    )
    print(f"surge: REST reads after the run (ms): {timing}")
    print(
        "surge: refresh fetches (ms):", [round(x) for x in page.evaluate("window.ansimFetch || []")]
    )
    print("surge: over 200 ms:", page.evaluate("window.ansimSlow || []"))
    assert p99 <= TARGET_P99_MS
    context.close()
