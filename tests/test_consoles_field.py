"""The consoles away from the board: the CCTV demo operator's console, the MDT on a phone through an
escalation and a short network loss, and the app's one-step-at-a-time screens and quiet status."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.apiclient import SOS_BODY, app_request
from tests.factories import PASSWORD, World, build_world
from tests.live import LiveServer, serving

from ansim.api.app import create_app
from ansim.services.demo_world import DEMO_PASSWORD, DemoWorld, seed
from ansim.settings import Settings
from ansim.store.db import make_engine, make_session_factory
from ansim.store.uow import UnitOfWork

pytestmark = pytest.mark.browser
NEAR_CITY_HALL = {"latitude": 37.5690, "longitude": 126.9800}


def _server(tmp_path: Path, sqlite_template: Path, name: str) -> tuple[str, Any]:
    path = tmp_path / f"{name}.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    return url, make_engine(url)


@pytest.fixture
def demo(tmp_path: Path, sqlite_template: Path) -> Iterator[tuple[LiveServer, DemoWorld]]:
    url, engine = _server(tmp_path, sqlite_template, "demo")
    world = seed(UnitOfWork(make_session_factory(engine)), at=datetime.now(UTC))
    with serving(create_app(Settings(database_url=url, outbox_poll_s=0.05), engine=engine)) as live:
        yield live, world
    engine.dispose()


def test_the_demo_cctv_operator_sees_a_demo_incident_on_the_base_map(
    demo: tuple[LiveServer, DemoWorld], page: Any
) -> None:
    live, world = demo
    assert world.cctv_district == "종로구"
    page.goto(f"{live.url}/cctv")
    page.fill("#username", "cctv")
    page.fill("#password", DEMO_PASSWORD)
    page.click("#login button[type=submit]")
    page.locator("#console").wait_for(state="visible")
    assert page.locator("#login").is_hidden()  # the login form is gone after login
    page.wait_for_selector("#map[data-basemap=roads]", timeout=10000)
    assert page.locator("path.base-road").count() > 100
    # Nothing yet: a clear empty state, not a blank list.
    page.locator("#area-note.empty", has_text="진행 중인 사건이 없습니다").wait_for()

    # A drill-like SOS from a demo pupil at their school in the operator's district.
    pupil, school, credential = next(
        (p, s, c) for p, s, c in world.subscribers if _in_district(s.lat, s.lon, "종로구")
    )
    fix = {
        "lat": school.lat,
        "lon": school.lon,
        "accuracy_m": 25,
        "confidence": 0.68,
        "method": "gnss",
    }
    answer = httpx.post(
        f"{live.url}/api/v1/app/sos", **app_request(credential, {"fix": fix}, "cctv-demo-press-1")
    )
    assert answer.status_code == 201, answer.text
    incident_id = answer.json()["incident_id"]
    item = page.locator(f"#incidents li[data-id='{incident_id}']")
    item.wait_for(timeout=10000)
    assert page.locator("#area-note.empty").count() == 0
    item.focus()
    page.keyboard.press("Enter")  # the list works from the keyboard too
    page.locator("#selection-note").filter(has_text=re.compile("카메라")).wait_for(timeout=10000)
    assert pupil.name  # a demo person, by name on the board; the console shows codes and places


def _in_district(lat: float, lon: float, name: str) -> bool:
    from ansim.geo.demo_data import district_named

    district = district_named(name)
    return district is not None and district.contains(lat, lon)


@pytest.fixture
def field(tmp_path: Path, sqlite_template: Path) -> Iterator[tuple[LiveServer, World]]:
    url, engine = _server(tmp_path, sqlite_template, "field")
    world = build_world(engine)
    with serving(create_app(Settings(database_url=url, outbox_poll_s=0.05), engine=engine)) as live:
        yield live, world
    engine.dispose()


def _bearer(base: str, username: str) -> dict[str, str]:
    answer = httpx.post(f"{base}/api/v1/session", json={"username": username, "password": PASSWORD})
    answer.raise_for_status()
    return {"Authorization": f"Bearer {answer.json()['token']}"}


def test_the_mdt_on_a_phone_re_alerts_on_escalation_and_queues_status_while_offline(
    field: tuple[LiveServer, World], chromium: Any
) -> None:
    live, world = field
    context = chromium.new_context(
        locale="ko-KR",
        viewport={"width": 390, "height": 844},
        geolocation=NEAR_CITY_HALL,
        permissions=["geolocation"],
    )
    page = context.new_page()
    page.goto(f"{live.url}/mdt")
    page.fill("#username", "officer")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("#link.up")
    page.wait_for_selector("#map[data-basemap=roads]", timeout=10000)
    assert page.locator("path.base-road").count() > 100

    sos = httpx.post(
        f"{live.url}/api/v1/app/sos",
        **app_request(world.app_credential, SOS_BODY, "mdt-field-0001"),
    )
    assert sos.status_code == 201, sos.text
    incident_id = sos.json()["incident_id"]
    page.wait_for_selector("#order", state="visible")
    page.wait_for_function("() => document.body.dataset.alerts === '1'")
    page.click("#alert-ok")
    page.click("#ack")
    page.wait_for_selector("#order-state:has-text('수신 확인')")

    answer = httpx.post(
        f"{live.url}/api/v1/incidents/{incident_id}/priority",
        json={"priority": 0, "reason": "CCTV: 대상자 끌려가는 장면"},
        headers=_bearer(live.url, "supervisor"),
    )
    assert answer.status_code == 200, answer.text
    page.locator("#alert-text", has_text="코드 0 격상! CCTV: 대상자 끌려가는 장면").wait_for()
    assert page.evaluate("document.body.dataset.alerts") == "2"
    page.locator("#announcer-urgent", has_text="코드 0 격상").wait_for()
    # A note from the dispatcher reaches the crew: announced, and listed with the order.
    noted = httpx.post(
        f"{live.url}/api/v1/incidents/{incident_id}/notes",
        json={"text": "아버지가 정문에서 기다림, 파란 점퍼"},
        headers=_bearer(live.url, "dispatcher"),
    )
    assert noted.status_code == 201, noted.text
    page.locator("#alert-text", has_text="아버지가 정문에서 기다림").wait_for()
    page.locator("#notes li", has_text="파란 점퍼").wait_for()
    page.click("#alert-ok")
    # Phone-sized: nothing wider than the screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    # A short network loss: the change waits, shown as pending, and leaves when the network is back.
    context.set_offline(True)
    page.click("#en-route")
    page.locator("[data-testid=pending]", has_text="전송 대기").wait_for()
    context.set_offline(False)
    page.wait_for_selector("#unit-status:has-text('출동 중')", timeout=15000)
    assert page.locator("[data-testid=pending]").inner_text() == ""
    context.close()


def test_the_app_shows_one_step_at_a_time_and_a_quiet_status(
    field: tuple[LiveServer, World], chromium: Any
) -> None:
    live, world = field
    context = chromium.new_context(
        locale="ko-KR", geolocation=NEAR_CITY_HALL, permissions=["geolocation"]
    )
    page = context.new_page()
    page.goto(f"{live.url}/app")
    assert page.locator("#ask-code").is_visible()
    assert page.locator("#verify").is_hidden()  # `hidden` wins over form{display:flex}
    assert page.locator("#cancel").is_hidden()
    # A registered install (the app's own registration is covered in test_intake_pwa).
    page.evaluate(f"localStorage.setItem('ansim.credential', '{world.app_credential}')")
    page.reload()
    assert page.locator("#register").is_hidden()
    assert page.locator("#cancel").is_hidden()
    assert page.locator("#quiet").is_hidden()
    page.uncheck("#silent")
    page.click("#sos")
    quiet = page.locator("#quiet-step")
    quiet.filter(has_text="신고가 접수되었습니다.").wait_for(timeout=10000)
    assert page.locator("#cancel").is_visible()
    # Never the police's internal words.
    assert not re.search(r"출동 지령|dispatched|코드 \d|code \d", page.locator("main").inner_text())
    page.fill("#cancel-pin", "0000")  # a wrong PIN: the SOS stays
    page.click("#cancel button")
    page.locator("#state", has_text="PIN").wait_for()
    assert page.locator("#cancel").is_visible()
    context.close()
