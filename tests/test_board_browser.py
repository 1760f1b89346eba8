"""The situation board in a real browser: log in, and a new SOS appears on the map and in the queue within 2 s."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine
from tests.apiclient import SOS_BODY, app_request
from tests.factories import PASSWORD, T0, World, build_world
from tests.live import LiveServer, serving

from ansim.api.app import create_app
from ansim.settings import Settings

pytestmark = pytest.mark.browser


@pytest.fixture
def board_server(tmp_path: Path, sqlite_template: Path) -> Iterator[tuple[LiveServer, World]]:
    import shutil

    from ansim.store.db import make_engine

    path = tmp_path / "board.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    engine: Engine = make_engine(url)
    world = build_world(engine)
    app = create_app(Settings(database_url=url, outbox_poll_s=0.05), engine=engine)
    with serving(app) as live:
        yield live, world
    engine.dispose()


def log_in(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/login?next=/board")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/board")


def test_a_new_sos_appears_on_the_map_and_in_the_queue_within_two_seconds(
    board_server: tuple[LiveServer, World], page: Any, tmp_path: Path
) -> None:
    live, world = board_server
    log_in(page, live.url, "dispatcher")
    page.wait_for_selector("[data-testid=live].on", timeout=5000)
    assert page.locator("[data-testid=queue-item]").count() == 0

    answer = httpx.post(
        f"{live.url}/api/v1/app/sos", **app_request(world.app_credential, SOS_BODY, "browser-0001")
    )
    assert answer.status_code == 201, answer.text
    incident_id = answer.json()["incident_id"]

    item = page.locator(f"[data-incident-id='{incident_id}']")
    item.wait_for(timeout=2000)
    page.locator(f"path.incident-{incident_id}").wait_for(timeout=2000)
    page.locator(f"path.uncertainty-{incident_id}").wait_for(timeout=2000)
    # The person's name comes from the authenticated REST read that follows the event.
    page.locator(f"[data-incident-id='{incident_id}'] .who", has_text="김하늘").wait_for(
        timeout=5000
    )

    item.click()
    page.locator("[data-testid=who]").wait_for()
    assert "서울덕수초등학교" in page.locator("[data-testid=who]").inner_text()
    assert "태평로11" in page.locator("[data-testid=units]").inner_text()
    assert page.locator("[data-testid=guardians] a[href^='tel:']").count() == 1
    # Where in words (street, 동, landmark) in the queue and the detail.
    place = page.locator("[data-testid=place].place-description").inner_text()
    assert "태평로1가" in place
    queued = page.locator(f"[data-incident-id='{incident_id}'] .place-description")
    assert queued.inner_text() == place
    page.screenshot(path=str(tmp_path / "board.png"))


def test_the_board_speaks_english_too_and_refuses_without_login(
    board_server: tuple[LiveServer, World], page: Any
) -> None:
    live, _world = board_server
    page.goto(f"{live.url}/board")
    page.wait_for_url(f"{live.url}/login?next=%2Fboard")
    page.click("#lang")
    assert page.locator("button[type=submit]").inner_text() == "Log in"
    log_in(page, live.url, "dispatcher")
    assert page.locator("h1").inner_text() == "112 Situation Board"


def test_the_openapi_explorer_works_offline(
    board_server: tuple[LiveServer, World], page: Any
) -> None:
    live, _world = board_server
    page.goto(f"{live.url}/docs")
    page.get_by_text("app_send_sos", exact=True).first.wait_for(timeout=15000)


def test_the_board_lists_the_silent_notice_to_the_wearers_terminal(
    board_server: tuple[LiveServer, World], page: Any
) -> None:
    import dataclasses

    from tests.verifykit import CONFIG, send_sos, uow_of

    from ansim.domain.incidents import Channel
    from ansim.services import terminals

    live, world = board_server
    engine = live.app.state.context.engine
    with uow_of(engine).begin() as session:
        terminals.enrol(
            session,
            terminal_id="UA-BOARD-1",
            subscriber_id=world.subscriber_id,
            reporting_interval_s=300,
            actor="test",
            at=T0,
        )
    notices = dataclasses.replace(CONFIG, terminal_notices=True)
    incident_id = send_sos(
        engine, world.subscriber_id, channel=Channel.TERMINAL, config=notices, at=T0
    )
    log_in(page, live.url, "dispatcher")
    page.locator(f"[data-incident-id='{incident_id}']").click()
    line = page.locator("ul.deliveries.wearer li")
    line.wait_for(timeout=5000)
    # This app has no broker: the notice is dead-lettered, and the board says so.
    assert line.inner_text().startswith("도움이 오고 있음: 단말기 ")
