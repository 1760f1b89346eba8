"""A car-like track: the board and the MDT draw the road-shaped 95 % region and say the address."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine
from tests.apiclient import SOS_BODY, app_request
from tests.cartrack import car_fixes
from tests.factories import PASSWORD, World, build_world
from tests.live import LiveServer, serving
from tests.test_board_browser import log_in

from ansim.api.app import create_app
from ansim.geo.place import describe_place
from ansim.services import incidents
from ansim.settings import Settings
from ansim.store.db import make_engine, make_session_factory
from ansim.store.uow import UnitOfWork

pytestmark = pytest.mark.browser


@pytest.fixture
def car_server(tmp_path: Path, sqlite_template: Path) -> Iterator[tuple[LiveServer, World, Engine]]:
    path = tmp_path / "roads.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    world = build_world(engine)
    app = create_app(
        Settings(database_url=url, outbox_poll_s=0.05, scheduler_poll_s=0.05), engine=engine
    )
    with serving(app) as live:
        yield live, world, engine
    engine.dispose()


def _car_incident(live: LiveServer, world: World, engine: Engine) -> tuple[str, str]:
    """An app SOS at City Hall, then a minute of driving east: (incident id, its address)."""
    answer = httpx.post(
        f"{live.url}/api/v1/app/sos", **app_request(world.app_credential, SOS_BODY, "road-region-1")
    )
    assert answer.status_code == 201, answer.text
    incident_id = answer.json()["incident_id"]
    uow = UnitOfWork(make_session_factory(engine))
    with uow.begin() as session:
        incident = incidents.get(session, incident_id=incident_id, for_update=True)
        assert incident.located_at is not None
        fixes = car_fixes(incident.located_at + timedelta(seconds=5))
        incidents.add_fixes(
            session, incident=incident, fixes=fixes, received_at=fixes[-1].observed_at
        )
        assert incident.lat is not None
        assert incident.lon is not None
        address = describe_place(incident.lat, incident.lon).text("ko")
    assert address
    return incident_id, address


def test_the_board_draws_a_cars_road_region_with_the_address(
    car_server: tuple[LiveServer, World, Engine], page: Any, tmp_path: Path
) -> None:
    live, world, engine = car_server
    incident_id, address = _car_incident(live, world, engine)
    log_in(page, live.url, "dispatcher")
    page.locator(f"[data-incident-id='{incident_id}']").click()
    page.locator(f"path.location-region-{incident_id}").wait_for(timeout=5000)
    assert page.locator(f"path.location-ellipse-{incident_id}").count() == 0
    assert "roads" in page.locator("[data-testid=location-area]").inner_text() or "도로" in (
        page.locator("[data-testid=location-area]").inner_text()
    )
    places = page.locator("[data-testid=place]").all_inner_texts()
    assert any(address in text for text in places), (places, address)
    page.screenshot(path=str(tmp_path / "board-road-region.png"))


def test_the_mdt_draws_the_road_region_of_its_order_with_the_address(
    car_server: tuple[LiveServer, World, Engine], page: Any, tmp_path: Path
) -> None:
    live, world, engine = car_server
    page.context.grant_permissions(["geolocation"], origin=live.url)
    page.context.set_geolocation({"latitude": 37.5690, "longitude": 126.9800})
    page.goto(f"{live.url}/mdt")
    page.fill("#username", "officer")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("#no-order", state="visible")
    incident_id, address = _car_incident(live, world, engine)
    page.wait_for_selector("#order", state="visible")
    page.locator("path.location-region").wait_for(timeout=5000)
    assert address in (page.text_content("#place") or "")
    assert "도로" in (page.text_content("#region") or "")
    page.screenshot(path=str(tmp_path / "mdt-road-region.png"))
    assert incident_id
