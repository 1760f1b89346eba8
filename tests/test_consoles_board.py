"""The situation board worked as a dispatcher works it: the alert (tone, banner, aria-live) on a new
SOS and on an escalation, keyboard-only dispatch from the queue, the base map of the center's area,
one uncertainty figure on queue, panel and map."""

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
from ansim.settings import Settings
from ansim.store.db import make_engine

pytestmark = pytest.mark.browser


@pytest.fixture
def board(tmp_path: Path, sqlite_template: Path) -> Iterator[tuple[LiveServer, World]]:
    path = tmp_path / "board.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    world = build_world(engine)
    with serving(create_app(Settings(database_url=url, outbox_poll_s=0.05), engine=engine)) as live:
        yield live, world
    engine.dispose()


def open_board(page: Any, base: str) -> None:
    page.goto(f"{base}/login?next=/board")
    page.fill("input[name=username]", "dispatcher")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/board")
    page.wait_for_selector("[data-testid=live].on", timeout=5000)


def send_sos(base: str, world: World, key: str = "board-console-0001") -> str:
    answer = httpx.post(
        f"{base}/api/v1/app/sos", **app_request(world.app_credential, SOS_BODY, key)
    )
    assert answer.status_code == 201, answer.text
    incident_id: str = answer.json()["incident_id"]
    return incident_id


def staff_headers(base: str, username: str) -> dict[str, str]:
    answer = httpx.post(f"{base}/api/v1/session", json={"username": username, "password": PASSWORD})
    answer.raise_for_status()
    return {"Authorization": f"Bearer {answer.json()['token']}"}


def test_a_new_sos_and_an_escalation_sound_the_alert_and_are_announced(
    board: tuple[LiveServer, World], page: Any
) -> None:
    live, world = board
    open_board(page, live.url)
    page.click("h1")  # any first press lets the browser play sound
    incident_id = send_sos(live.url, world)

    page.wait_for_function("() => document.body.dataset.tones === '1'", timeout=5000)
    banner = page.locator("#alert-banner")
    banner.filter(has_text="새 SOS").wait_for(timeout=5000)
    assert page.locator("#announcer-urgent[aria-live=assertive]").count() == 1
    page.locator("#announcer-urgent", has_text="새 SOS").wait_for(timeout=5000)
    page.keyboard.press("Escape")  # the dispatcher acknowledges the alert
    assert banner.is_hidden()

    answer = httpx.post(
        f"{live.url}/api/v1/incidents/{incident_id}/priority",
        json={"priority": 0, "reason": "보호자: 납치 의심"},
        headers=staff_headers(live.url, "supervisor"),
    )
    assert answer.status_code == 200, answer.text
    page.wait_for_function("() => document.body.dataset.tones === '2'", timeout=5000)
    banner.filter(has_text="코드 0 격상: 보호자: 납치 의심").wait_for(timeout=5000)
    page.locator("#announcer-urgent", has_text="코드 0 격상").wait_for(timeout=5000)

    # Muted on this console: the banner still shows, no tone is played.
    page.click("#alert-ack")
    page.click("#mute")
    assert page.get_attribute("#mute", "aria-pressed") == "true"
    send_sos(live.url, _second_caller(live, world), key="board-console-0002")
    page.wait_for_function("() => document.body.dataset.alerts === '3'", timeout=5000)
    assert page.evaluate("document.body.dataset.tones") == "2"
    assert banner.is_visible()


def _second_caller(live: LiveServer, world: World) -> World:
    """Another pupil with an app install (the first one's second press would repeat its SOS)."""
    import dataclasses
    import uuid

    from tests.factories import T0

    from ansim.domain.people import Subscriber
    from ansim.services import people
    from ansim.store.db import make_session_factory
    from ansim.store.uow import UnitOfWork

    engine = live.app.state.context.engine
    with UnitOfWork(make_session_factory(engine)).begin() as session:
        pupil = Subscriber(
            id=str(uuid.uuid4()), name="이바다", birth_year=2015, created_at=T0, consent_at=T0
        )
        session.add(pupil)
        session.flush()
        credential = people.issue_app_credential(session, subscriber_id=pupil.id, at=T0)
    return dataclasses.replace(world, subscriber_id=pupil.id, app_credential=credential)


def test_a_dispatcher_dispatches_from_the_queue_with_the_keyboard_only(
    board: tuple[LiveServer, World], page: Any
) -> None:
    live, world = board
    open_board(page, live.url)
    incident_id = send_sos(live.url, world)
    page.locator(f"[data-incident-id='{incident_id}'] .who", has_text="김하늘").wait_for()

    page.keyboard.press("Tab")  # the skip link comes first
    assert page.evaluate("document.activeElement.className") == "skip"
    page.keyboard.press("Enter")
    page.wait_for_function(
        f"() => document.activeElement.dataset.incidentId === '{incident_id}'", timeout=3000
    )
    # The focus is visible: the focused queue item has an outline.
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.activeElement.id === 'detail-title'", timeout=5000)
    assert page.get_attribute(f"[data-incident-id='{incident_id}']", "aria-selected") == "true"

    for _ in range(60):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.dataset.unit !== undefined"):
            break
    else:
        pytest.fail("no dispatch button reached with Tab")
    unit_id = page.evaluate("document.activeElement.dataset.unit")
    page.keyboard.press("Enter")
    assert "출동 확인" in page.evaluate("document.activeElement.textContent")
    page.keyboard.press("Enter")  # confirm

    headers = staff_headers(live.url, "dispatcher")

    def ordered() -> bool:
        plan = httpx.get(f"{live.url}/api/v1/incidents/{incident_id}/dispatch", headers=headers)
        return any(a["unit_id"] == unit_id for a in plan.json()["assignments"])

    for _ in range(50):
        if ordered():
            break
        page.wait_for_timeout(100)
    assert ordered()


def test_the_board_draws_the_base_map_of_the_area_and_one_uncertainty_figure(
    board: tuple[LiveServer, World], page: Any
) -> None:
    live, world = board
    open_board(page, live.url)
    page.wait_for_selector("#map[data-basemap=roads]", timeout=10000)
    assert page.locator("path.base-road").count() > 100
    page.locator("path.district-outline").first.wait_for(timeout=10000)
    # Opened on the center's area (the districts the roads reach), not a corner of the city.
    assert page.get_attribute("#map", "data-area") == "fitted"
    incident_id = send_sos(live.url, world)
    item = page.locator(f"[data-incident-id='{incident_id}']")
    item.wait_for()
    page.locator(f"[data-incident-id='{incident_id}'] .who", has_text="김하늘").wait_for()
    item.click()
    panel = page.locator("[data-testid=uncertainty]")
    panel.wait_for()
    in_queue = re.search(r"±(\d+) m", item.inner_text())
    in_panel = re.search(r"±(\d+) m", panel.inner_text())
    assert in_queue
    assert in_panel
    drawn = page.evaluate(f"document.querySelector('path.uncertainty-{incident_id}') !== null")
    assert drawn
    # The same figure (give or take the seconds between two drawings).
    assert abs(int(in_queue.group(1)) - int(in_panel.group(1))) <= 10
    assert re.search(r"\d+\s*(초 전|s ago)", panel.inner_text())


def test_a_duress_escalation_names_its_cause_in_the_dispatchers_language(
    board: tuple[LiveServer, World], page: Any
) -> None:
    """The banner says why in Korean (the cause's label), not the server's English reason."""
    from tests.factories import T0

    from ansim.services import app_accounts
    from ansim.store.db import make_session_factory
    from ansim.store.uow import UnitOfWork

    live, world = board
    engine = live.app.state.context.engine
    with UnitOfWork(make_session_factory(engine)).begin() as session:
        app_accounts.set_pins(
            session, subscriber_id=world.subscriber_id, pin="2580", duress_pin="0852", at=T0
        )
    open_board(page, live.url)
    incident_id = send_sos(live.url, world)
    page.locator("#alert-banner", has_text="새 SOS").wait_for(timeout=5000)
    page.keyboard.press("Escape")

    answer = httpx.post(
        f"{live.url}/api/v1/app/incidents/{incident_id}/cancel",
        **app_request(world.app_credential, {"pin": "0852"}),
    )
    assert answer.status_code == 200, answer.text
    banner = page.locator("#alert-text")
    banner.filter(has_text="코드 0 격상: 강요 PIN 입력").wait_for(timeout=5000)
    assert "duress PIN entered" not in banner.inner_text()
    # The priority change raised the alert; the escalation that names its cause explained it.
    assert page.evaluate("document.body.dataset.alerts") == "2"


def test_the_person_panel_shows_the_wearers_terminal_health(
    board: tuple[LiveServer, World], page: Any
) -> None:
    """Regression: the device rows were drawn as "[object HTMLElement], [object HTMLElement]"."""
    live, world = board
    answer = httpx.post(
        f"{live.url}/api/v1/admin/terminals",
        json={"terminal_id": "UA-7001", "subscriber_id": world.subscriber_id},
        headers=staff_headers(live.url, "admin"),
    )
    assert answer.status_code == 201, answer.text
    open_board(page, live.url)
    incident_id = send_sos(live.url, world)
    page.locator(f"[data-incident-id='{incident_id}']").click()
    health = page.locator("[data-testid=device-health]")
    health.wait_for(timeout=5000)
    assert "UA-7001" in health.inner_text()
    assert "수신 없음" in health.inner_text()  # never heard from yet
    assert "object HTMLElement" not in page.locator("[data-testid=who]").inner_text()
