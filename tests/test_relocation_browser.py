"""The board shows where the carrier says a one-touch caller is: "re-located N s ago", in a browser."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.factories import PASSWORD, World, build_world
from tests.heldserver import HeldServer, held_server
from tests.live import LiveServer, serving

from ansim.api.app import create_app
from ansim.security.signing import carrier_headers
from ansim.settings import Settings
from ansim.store.db import make_engine

pytestmark = pytest.mark.browser


@pytest.fixture
def relocating(
    tmp_path: Path, sqlite_template: Path
) -> Iterator[tuple[LiveServer, World, HeldServer]]:
    path = tmp_path / "relocate.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    world = build_world(engine)
    app = create_app(
        Settings(database_url=url, outbox_poll_s=0.05, scheduler_poll_s=0.2), engine=engine
    )
    with (
        held_server(username="psap", password="pw", stamp=datetime.now(UTC)) as lis,
        serving(app) as live,
    ):
        yield live, world, lis
    engine.dispose()


def _token(base: str, username: str) -> str:
    answer = httpx.post(f"{base}/api/v1/session", json={"username": username, "password": PASSWORD})
    token: str = answer.json()["token"]
    return token


def test_the_board_shows_a_carrier_relocation_and_the_place_in_words(
    relocating: tuple[LiveServer, World, HeldServer], page: Any
) -> None:
    live, _world, lis = relocating
    admin = {"Authorization": f"Bearer {_token(live.url, 'admin')}"}
    carrier = httpx.post(
        f"{live.url}/api/v1/admin/carriers",
        json={
            "carrier_id": "kt",
            "name": "KT",
            "location_server": {"url": lis.url, "username": "psap", "password": "pw"},
        },
        headers=admin,
    )
    assert carrier.status_code == 201, carrier.text
    now = datetime.now(UTC)
    lis.stamp = now
    call = json.dumps(
        {
            "call_id": "browser-held-1",
            "caller_number": "010-1234-5678",
            "called_at": now.isoformat(),
            "network_location": {"lat": 37.566, "lon": 126.979, "radius_m": 900},
        }
    ).encode()
    headers = carrier_headers(carrier_id="kt", secret=carrier.json()["secret"], body=call, at=now)
    sos = httpx.post(
        f"{live.url}/api/v1/carrier/sos",
        content=call,
        headers={**headers, "content-type": "application/json"},
    )
    assert sos.status_code == 201, sos.text
    incident_id = sos.json()["incident_id"]

    page.goto(f"{live.url}/login?next=/board")
    page.fill("input[name=username]", "dispatcher")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live.url}/board")
    page.locator(f"[data-incident-id='{incident_id}']").click()
    # The policy asked the carrier at once; the board says so (after the located event).
    relocated = page.locator("[data-testid=relocation].relocation-located")
    relocated.wait_for(timeout=10_000)
    assert "재측위" in relocated.inner_text()
    assert lis.numbers[0] == "+821012345678"
    assert lis.problems == []
    assert "태평로1가" in page.locator("[data-testid=place]").inner_text()

    # The server goes quiet: the dispatcher asks again and the board says it failed.
    lis.mode = "error"
    page.click("[data-testid=relocate]")
    page.locator("[data-testid=relocation].relocation-failed").wait_for(timeout=10_000)
    assert "재측위 실패" in page.locator("[data-testid=relocation]").inner_text()
