"""The 112 app PWA in a real chromium: register by SMS code, silent SOS with emulated GPS, duress cancel."""

from __future__ import annotations

import re
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from tests.factories import build_world
from tests.live import serving

from ansim.api.app import create_app
from ansim.services import app_accounts
from ansim.settings import Settings
from ansim.store.db import make_session_factory
from ansim.store.tables import incidents, location_fixes
from ansim.store.uow import UnitOfWork

GANGNAM = {"latitude": 37.4979, "longitude": 127.0276, "accuracy": 12}


def _code(engine: Engine) -> str:
    with UnitOfWork(make_session_factory(engine)).read() as session:
        body = app_accounts.outbox_messages(session, to_number="+821077778888")[-1]
    found = re.search(r"\d{6}", body)
    assert found is not None
    return found.group()


@pytest.mark.browser
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # one backend is enough here
def test_the_app_registers_sends_a_silent_sos_streams_gps_and_hides_a_duress_cancel(
    engine: Engine,
    database_url: str,
    chromium: Any,
) -> None:
    build_world(engine)
    app = create_app(Settings(database_url=database_url, outbox_poll_s=0.05), engine=engine)
    with serving(app) as live:
        context = chromium.new_context(
            locale="ko-KR", geolocation=GANGNAM, permissions=["geolocation"]
        )
        context.grant_permissions(["geolocation"], origin=live.url)
        page = context.new_page()
        page.goto(f"{live.url}/app")
        assert page.locator("h1").inner_text() == "112 안심"
        assert page.evaluate("navigator.serviceWorker.ready.then(r => r.active !== null)") is True
        page.fill("#phone", "010-7777-8888")
        page.click("#ask-code button")
        page.wait_for_selector("#verify:not([hidden])")
        page.fill("#code", _code(engine))
        page.fill("#name", "한소희")
        page.fill("#birth-year", "1995")
        page.fill("#pin", "4321")
        page.fill("#duress-pin", "1234")
        page.click("#verify button")
        page.wait_for_selector("#home:not([hidden])")
        page.click("#sos")
        assert page.locator("#dark").is_visible()  # silent mode: the screen looks off
        page.wait_for_selector("#quiet-step:has-text('접수')")
        with engine.connect() as conn:
            row = conn.execute(
                sa.select(incidents.c.lat, incidents.c.lon, incidents.c.channel)
            ).one()
        assert (round(row.lat, 4), round(row.lon, 4), row.channel) == (37.4979, 127.0276, "app")
        # Move and let the 5-second batch upload carry the new fix.
        context.set_geolocation({"latitude": 37.4990, "longitude": 127.0290, "accuracy": 9})
        page.wait_for_timeout(6000)
        with engine.connect() as conn:
            lats = conn.execute(sa.select(location_fixes.c.lat)).scalars().all()
        assert any(abs(lat - 37.4990) < 1e-6 for lat in lats), lats
        page.dblclick("#dark")
        page.fill("#cancel-pin", "1234")  # the duress PIN
        page.click("#cancel button")
        page.wait_for_selector("#quiet-step:has-text('취소되었습니다')")
        with engine.connect() as conn:
            duress, priority = conn.execute(
                sa.select(incidents.c.duress, incidents.c.priority)
            ).one()
        assert (duress, priority) == (True, 0)
        page.click("#lang")
        assert page.locator("h1").inner_text() == "112 Safety"
        context.close()


@pytest.mark.browser
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_regression_the_app_keeps_retrying_an_sos_through_5xx_and_network_errors(
    engine: Engine, database_url: str, chromium: Any
) -> None:
    world = build_world(engine)
    app = create_app(Settings(database_url=database_url, outbox_poll_s=0.05), engine=engine)
    with serving(app) as live:
        context = chromium.new_context(locale="en-US")
        page = context.new_page()
        page.goto(f"{live.url}/app")
        page.evaluate(f"localStorage.setItem('ansim.credential', '{world.app_credential}')")
        page.reload()
        page.wait_for_selector("#home:not([hidden])")
        keys: list[str] = []
        seen: list[str] = []

        def flaky(route: Any) -> None:
            keys.append(route.request.headers.get("idempotency-key", ""))
            seen.append(page.locator("#state").inner_text())
            if len(keys) <= 2:
                route.fulfill(status=503, body='{"detail": "database unavailable"}')
            elif len(keys) == 3:
                route.abort("connectionreset")  # the network drops this one
            else:
                route.continue_()

        page.route("**/api/v1/app/sos", flaky)
        page.click("#sos")
        page.wait_for_selector("#state:has-text('retry')")
        page.wait_for_selector("#quiet-step:has-text('SOS was received')", timeout=20_000)
        assert len(keys) == 4
        assert len(set(keys)) == 1, keys  # one key on every try: one incident
        assert not any("failed" in text.lower() for text in seen), seen
        with engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(incidents)).scalar() == 1
        assert page.evaluate("localStorage.getItem('ansim.sos-key')") is None
        context.close()
