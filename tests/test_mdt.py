"""The officer's terminal in chromium: order arrives live → acknowledge → en route → on scene → clear."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.apiclient import SOS_BODY, app_request
from tests.factories import PASSWORD, build_world
from tests.live import serving

from ansim.api.app import create_app
from ansim.services import dispatch
from ansim.settings import Settings
from ansim.store.db import make_engine, make_session_factory
from ansim.store.uow import UnitOfWork

NEAR_CITY_HALL = {"latitude": 37.5690, "longitude": 126.9800}


@pytest.mark.browser
def test_the_officer_takes_an_order_from_alert_to_clear(
    page: Any,
    sqlite_template: Path,
    tmp_path: Path,
) -> None:
    path = tmp_path / "ansim.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    world = build_world(engine)
    app = create_app(
        Settings(database_url=url, outbox_poll_s=0.05, scheduler_poll_s=0.05), engine=engine
    )
    try:
        with serving(app) as live:
            page.context.grant_permissions(["geolocation"], origin=live.url)
            page.context.set_geolocation(NEAR_CITY_HALL)
            problems: list[str] = []
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.goto(f"{live.url}/mdt")
            page.fill("#username", "officer")
            page.fill("#password", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_selector("#no-order", state="visible")
            assert problems == []
            page.wait_for_selector("#unit-label:has-text('태평로11')")
            page.wait_for_selector("#link.up")

            answer = httpx.post(
                f"{live.url}/api/v1/app/sos",
                **app_request(world.app_credential, SOS_BODY, "mdt-press-1"),
            )
            assert answer.status_code == 201, answer.text
            page.wait_for_selector("#order", state="visible")
            assert page.get_attribute("body", "data-alerts") == "1"  # the audible alert fired once
            assert page.text_content("#person-name") == "김하늘"
            # The radius grown to now since the fix (common/labels.js uncertaintyNow).
            assert re.search(r"±3\d m", page.text_content("#location") or "")
            assert "태평로1가" in (page.text_content("#place.place-description") or "")
            assert "확인 남은 시간" in (page.text_content("#countdown") or "")
            page.wait_for_selector("#eta:has-text('예상 도착')")
            assert page.locator(".leaflet-overlay-pane path").count() >= 3  # circle, route, unit

            page.click("#ack")
            page.wait_for_selector("#order-state:has-text('수신 확인')")
            page.click("#en-route")
            page.wait_for_selector("#unit-status:has-text('출동 중')")
            page.click("#on-scene")
            page.wait_for_selector("#unit-status:has-text('현장')")
            page.click("#lang")
            assert page.text_content("#clear") == "Clear"
            page.click("#clear")
            page.wait_for_selector("#no-order", state="visible")
            page.wait_for_selector("#unit-status:has-text('available')")
            assert problems == []

            uow = UnitOfWork(make_session_factory(engine))
            with uow.read() as session:
                unit = dispatch.get_unit(session, unit_id=world.unit_ids["태평로11"])
                assert (unit.lat, unit.lon) == pytest.approx((37.5690, 126.9800))
                steps = [h["status"].value for h in dispatch.unit_history(session, unit_id=unit.id)]
            assert steps[::-1] == ["ordered", "en_route", "on_scene", "available"]
    finally:
        engine.dispose()
