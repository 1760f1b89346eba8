"""The guardian page in a real browser: Korean first, English on a tap, the live circle, one answer."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.apiclient import SOS_BODY, app_request
from tests.factories import PASSWORD, World, build_world
from tests.live import LiveServer, serving

from ansim.api.app import create_app
from ansim.api.context import AppContext
from ansim.domain.deliveries import RecipientKind
from ansim.domain.people import Guardian
from ansim.settings import Settings, VerificationSettings
from ansim.store.db import make_engine, make_session_factory

pytestmark = pytest.mark.browser


@pytest.fixture
def live_app(tmp_path: Path, sqlite_template: Path) -> Iterator[tuple[LiveServer, World]]:
    path = tmp_path / "guardian.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    world = build_world(engine)
    settings = Settings(
        database_url=url,
        outbox_poll_s=0.05,
        verification=VerificationSettings(link_secret="browser test key"),
    )
    with serving(create_app(settings, engine=engine)) as live:
        yield live, world
    engine.dispose()


def test_a_guardian_sees_the_circle_switches_language_and_reports_danger(
    live_app: tuple[LiveServer, World], page: Any
) -> None:
    live, world = live_app
    with httpx.Client(base_url=live.url) as http:
        sos = http.post(
            "/api/v1/app/sos", **app_request(world.app_credential, SOS_BODY, "browser-01")
        )
        incident_id = sos.json()["incident_id"]
        context: AppContext = live.app.state.context
        assert context.verification is not None
        with make_session_factory(context.engine)() as session:
            guardian_id = session.query(Guardian).one().id
        link = context.verification.link(
            incident_id=incident_id,
            recipient_id=guardian_id,
            kind=RecipientKind.GUARDIAN,
            at=context.now(),
        ).replace("http://127.0.0.1:8000", live.url)
        page.set_viewport_size({"width": 390, "height": 844})  # a phone
        page.goto(link)
        situation = page.locator("#situation")
        situation.filter(has_text="김하늘 님의 SOS로 경찰이 출동했습니다").wait_for()
        page.locator("path.leaflet-interactive").first.wait_for()
        assert page.locator("#map").get_attribute("data-radius") is not None
        # The stored 32 m grown to now at walking pace (one fix: no car).
        shown = re.search(r"정확도 약 (\d+) m", page.locator("#where").inner_text())
        assert shown is not None
        assert 32 <= int(shown.group(1)) <= 40
        assert "태평로1가" in page.locator("#place.place-description").inner_text()
        page.click("#lang")
        situation.filter(has_text="Police are on the way after an SOS from 김하늘").wait_for()
        assert page.locator("#danger").inner_text() == "I cannot reach them / danger"
        page.click("#danger")
        assert "Send" in page.locator("#confirm-yes").inner_text()
        page.click("#confirm-yes")
        page.locator("#answered").filter(has_text="Answer received: danger").wait_for()
        assert page.locator("#ask").is_hidden()
        token = http.post(
            "/api/v1/session", json={"username": "dispatcher", "password": PASSWORD}
        ).json()["token"]
        detail = http.get(
            f"/api/v1/incidents/{incident_id}", headers={"Authorization": f"Bearer {token}"}
        ).json()
        assert (detail["incident"]["priority"], detail["incident"]["status"]) == (0, "confirmed")
        bad = page.goto(f"{live.url}/g/forged-token")
        assert bad is not None
        assert bad.status == 403
        assert "This link is not valid" in page.content()
