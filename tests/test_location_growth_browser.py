"""The board's single figure for a car: the queue says what the detail's road region says at the
last fix, and grows at the car's bound (60 km/h) between fixes, not at walking pace."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine
from tests.apiclient import SOS_BODY, app_request
from tests.cartrack import car_fixes
from tests.factories import World, build_world
from tests.live import LiveServer, serving
from tests.test_board_browser import log_in

from ansim.api.app import create_app
from ansim.domain.estimate import VEHICLE_GROWTH_MPS
from ansim.services import incidents
from ansim.services.platform import utc_now
from ansim.settings import Settings
from ansim.store.db import make_engine, make_session_factory
from ansim.store.uow import UnitOfWork

pytestmark = pytest.mark.browser


class SetClock:
    """The server's clock: real time until a test sets it (the board's browser clock is set to
    the same instant, so both sides look at the same age of the estimate)."""

    def __init__(self) -> None:
        self.at: datetime | None = None

    def __call__(self) -> datetime:
        return self.at or utc_now()


@pytest.fixture
def clocked_server(
    tmp_path: Path, sqlite_template: Path
) -> Iterator[tuple[LiveServer, World, Engine, SetClock]]:
    path = tmp_path / "growth.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    world = build_world(engine)
    clock = SetClock()
    app = create_app(
        Settings(database_url=url, outbox_poll_s=0.05, scheduler_poll_s=0.05),
        engine=engine,
        clock=clock,
    )
    with serving(app) as live:
        yield live, world, engine, clock
    engine.dispose()


def _queue_figure(page: Any, incident_id: str) -> int:
    text = page.locator(f"[data-incident-id='{incident_id}']").inner_text()
    found = re.search(r"±(\d+) m", text)
    assert found, text
    return int(found.group(1))


def _header_figure(page: Any) -> int:
    text = page.locator("[data-testid=uncertainty]").inner_text()
    found = re.search(r"±(\d+) m", text)
    assert found, text
    return int(found.group(1))


def _region_figure(page: Any) -> int:
    text = page.locator("[data-testid=location-area]").inner_text()
    found = re.search(r"(?:반경|a circle of) (\d+) m", text)
    assert found, text
    return int(found.group(1))


def test_the_queue_figure_of_a_car_is_its_road_regions_and_grows_at_the_cars_bound(
    clocked_server: tuple[LiveServer, World, Engine, SetClock], page: Any, tmp_path: Path
) -> None:
    live, world, engine, clock = clocked_server
    answer = httpx.post(
        f"{live.url}/api/v1/app/sos", **app_request(world.app_credential, SOS_BODY, "growth-b1")
    )
    assert answer.status_code == 201, answer.text
    incident_id = answer.json()["incident_id"]
    with UnitOfWork(make_session_factory(engine)).begin() as session:
        incident = incidents.get(session, incident_id=incident_id, for_update=True)
        assert incident.located_at is not None
        fixes = car_fixes(incident.located_at + timedelta(seconds=5))
        incidents.add_fixes(
            session, incident=incident, fixes=fixes, received_at=fixes[-1].observed_at
        )
    last_fix = fixes[-1].observed_at
    # Both clocks at the last fix: the server's stays there, the browser's is paused there.
    clock.at = last_fix
    page.clock.install(time=last_fix - timedelta(seconds=600))
    log_in(page, live.url, "dispatcher")
    page.locator(f"[data-incident-id='{incident_id}']").click()
    page.locator(f"path.location-region-{incident_id}").wait_for(timeout=5000)
    page.clock.pause_at(last_fix)
    at_fix_queue, at_fix_region = _queue_figure(page, incident_id), _region_figure(page)
    assert abs(at_fix_queue - at_fix_region) <= 3, (at_fix_queue, at_fix_region)
    assert _header_figure(page) == at_fix_queue

    # Ten seconds without a fix: the queue grows by 167 m (walking pace would add 14 m).
    clock.at = last_fix + timedelta(seconds=10)
    page.clock.pause_at(last_fix + timedelta(seconds=10))  # the board's 5-s redraw runs
    later_queue = _queue_figure(page, incident_id)
    assert later_queue - at_fix_queue == pytest.approx(10 * VEHICLE_GROWTH_MPS, abs=2)
    assert _header_figure(page) == later_queue  # the detail's line grows on the same clock
    # The region computed now is no larger: the grown figure is the conservative one.
    page.locator(f"[data-incident-id='{incident_id}']").click()
    page.locator("[data-testid=location-area]").filter(has_text="167 m").wait_for(timeout=5000)
    later_region = _region_figure(page)
    assert at_fix_region < later_region <= later_queue + 2, (later_region, later_queue)
    page.screenshot(path=str(tmp_path / "board-car-figure.png"))
    print(
        f"queue/region figure: at the fix {at_fix_queue}/{at_fix_region} m, "
        f"10 s later {later_queue}/{later_region} m"
    )
