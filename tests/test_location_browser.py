"""The board draws the fused 95 % ellipse and the track, and states the method mix in words."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine
from tests.apiclient import app_request
from tests.factories import CITY_HALL, World, build_world
from tests.live import LiveServer, serving
from tests.test_board_browser import log_in

from ansim.api.app import create_app
from ansim.domain.fixes import FixMethod, LocationFix
from ansim.services import incidents
from ansim.settings import Settings
from ansim.store.db import make_engine, make_session_factory
from ansim.store.uow import UnitOfWork

pytestmark = pytest.mark.browser


@pytest.fixture
def location_server(
    tmp_path: Path, sqlite_template: Path
) -> Iterator[tuple[LiveServer, World, Engine]]:
    path = tmp_path / "board.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    world = build_world(engine)
    app = create_app(Settings(database_url=url, outbox_poll_s=0.05), engine=engine)
    with serving(app) as live:
        yield live, world, engine
    engine.dispose()


def test_the_board_draws_the_ellipse_and_the_track_of_several_fixes(
    location_server: tuple[LiveServer, World, Engine], page: Any, tmp_path: Path
) -> None:
    live, world, engine = location_server
    body = {"fix": {"lat": CITY_HALL[0], "lon": CITY_HALL[1], "accuracy_m": 60, "method": "wifi"}}
    answer = httpx.post(
        f"{live.url}/api/v1/app/sos", **app_request(world.app_credential, body, "location-0001")
    )
    assert answer.status_code == 201, answer.text
    incident_id = answer.json()["incident_id"]
    uow = UnitOfWork(make_session_factory(engine))
    with uow.begin() as session:
        incident = incidents.get(session, incident_id=incident_id, for_update=True)
        assert incident.located_at is not None
        first_at = incident.located_at
        for k in range(1, 5):
            fix = LocationFix(
                lat=CITY_HALL[0] + 0.0002 * k,
                lon=CITY_HALL[1] + 0.0001 * k,
                radius_m=50,
                method=FixMethod.WIFI,
                observed_at=first_at + timedelta(seconds=8 * k),
                source="test",
            )
            verdict = incidents.add_fix(
                session, incident=incident, fix=fix, received_at=fix.observed_at
            )
            assert verdict.outcome.value == "accepted"

    log_in(page, live.url, "dispatcher")
    page.locator(f"[data-incident-id='{incident_id}']").click()
    page.locator(f"path.location-ellipse-{incident_id}").wait_for(timeout=5000)
    page.locator(f"path.location-track-{incident_id}").wait_for(timeout=5000)
    words = page.locator("[data-testid=location-words]").inner_text()
    assert "Wi-Fi" in words
    assert "5" in words  # five Wi-Fi fixes in the mix
    assert "m²" in page.locator("[data-testid=location-area]").inner_text()
    # Re-rendering replaces the drawing rather than piling up copies.
    page.locator(f"[data-incident-id='{incident_id}']").click()
    page.locator(f"path.location-ellipse-{incident_id}").first.wait_for(timeout=5000)
    page.wait_for_timeout(300)
    assert page.locator(f"path.location-ellipse-{incident_id}").count() == 1
    page.screenshot(path=str(tmp_path / "location.png"))
