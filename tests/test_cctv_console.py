"""The CCTV console in chromium: log in, see the district's incident, aim, mark a sighting, switch language."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine
from tests.apiclient import SOS_BODY, app_request
from tests.factories import PASSWORD, build_world
from tests.live import chromium, free_port, page, serving  # noqa: F401
from tests.onvif_camera import FakePtzCamera, running_camera

from ansim.api.app import create_app
from ansim.geo.geodesy import LocalFrame
from ansim.settings import Settings
from ansim.store.db import make_engine

pytestmark = pytest.mark.browser
FRAME = LocalFrame(37.5665, 126.978)


@pytest.fixture
def sqlite_engine(sqlite_template: Path, tmp_path: Path) -> Iterator[tuple[Engine, str]]:
    path = tmp_path / "console.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    yield engine, url
    engine.dispose()


def _login(client: httpx.Client, username: str) -> dict[str, str]:
    answer = client.post("/api/v1/session", json={"username": username, "password": PASSWORD})
    answer.raise_for_status()
    return {"Authorization": f"Bearer {answer.json()['token']}"}


@pytest.fixture
def console(sqlite_engine: tuple[Engine, str]) -> Iterator[tuple[str, FakePtzCamera, str]]:
    engine, url = sqlite_engine
    world = build_world(engine)
    app = create_app(Settings(database_url=url, outbox_poll_s=0.05), engine=engine)
    with (
        running_camera() as ptz,
        serving(app) as server,
        httpx.Client(base_url=server.url) as client,
    ):
        admin = _login(client, "admin")
        client.put(
            "/api/v1/cctv/operators/cctv_operator/area", json={"gu": "중구"}, headers=admin
        ).raise_for_status()
        for name, (east, north), extra in (
            ("시청 앞 돔", (0, 40), {"ptz": True, "onvif_url": ptz.url, "onvif_username": "operator",
                                   "onvif_password": "cam-secret", "stream_url": "rtsp://10.0.0.7/live/1"}),
            ("고장 돔", (-20, 0), {"ptz": True, "onvif_url": f"http://127.0.0.1:{free_port()}/onvif",
                                 "onvif_username": "operator", "onvif_password": "x"}),
        ):  # fmt: skip
            lat, lon = FRAME.to_latlon(east, north)
            client.post(
                "/api/v1/cctv/cameras",
                json={"gu": "중구", "address": name, "lat": lat, "lon": lon} | extra,
                headers=admin,
            ).raise_for_status()
        sos = client.post(
            "/api/v1/app/sos", **app_request(world.app_credential, SOS_BODY, "console-press-01")
        )
        sos.raise_for_status()
        yield server.url, ptz, sos.json()["incident_id"]


def test_operator_aims_marks_and_the_board_sees_it(
    console: tuple[str, FakePtzCamera, str],
    page: Any,
) -> None:
    url, ptz, incident_id = console
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{url}/cctv")
    page.fill("#username", "cctv_operator")
    page.fill("#password", PASSWORD)
    page.click("#login button[type=submit]")
    page.wait_for_selector(f"#incidents li[data-id='{incident_id}']")
    assert "중구" in page.text_content("#who")
    page.click(f"#incidents li[data-id='{incident_id}']")
    page.wait_for_selector("#cameras li")
    assert page.locator("#cameras li").count() == 2
    assert page.locator(".leaflet-overlay-pane path").count() >= 3  # the area and two view cones

    dome = page.locator("#cameras li", has_text="시청 앞 돔")
    dome.locator("button.aim").click()
    dome.locator(".status.good", has_text="방향 전환 완료").wait_for()
    assert len(ptz.moves) == 1

    broken = page.locator("#cameras li", has_text="고장 돔")
    broken.locator("button.aim").click()
    broken.locator(".status.bad", has_text="카메라 응답 없음").wait_for()

    dome.locator("button.live-view").click()
    page.wait_for_selector("#live a[href='rtsp://10.0.0.7/live/1']")

    dome.locator("button.seen").click()
    page.wait_for_selector("#marks li.person_seen")
    with httpx.Client(base_url=url) as client:
        board = _login(client, "dispatcher")
        timeline = client.get(f"/api/v1/incidents/{incident_id}", headers=board).json()["timeline"]
    assert [e["kind"] for e in timeline][-1] == "person_seen"

    page.click("#lang")
    assert page.text_content("#title") == "CCTV control center"
    page.wait_for_selector("#cameras li button.seen:has-text('Person seen on camera 1')")
    assert errors == []


def test_wrong_password_and_wrong_role_stay_on_the_login_form(
    console: tuple[str, FakePtzCamera, str],
    page: Any,
) -> None:
    url, _ptz, _incident = console
    page.goto(f"{url}/cctv")
    page.fill("#username", "cctv_operator")
    page.fill("#password", "nope")
    page.click("#login button[type=submit]")
    page.wait_for_selector("#login-error:has-text('비밀번호')")
    page.fill("#username", "officer")
    page.fill("#password", PASSWORD)
    page.click("#login button[type=submit]")
    page.wait_for_selector("#login-error:has-text('권한')")
    assert page.is_hidden("#console")
