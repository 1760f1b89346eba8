"""The live demo in a real browser: drill SOS arrive, cars move, crews acknowledge, guardians answer.

The simulation runs in real time (fast) against the served app, as `ansim demo` runs it. Nothing
here is timed: the waits are generous bounds, and every assertion is about what the board shows.
"""

from __future__ import annotations

import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.live import LiveServer, serving

from ansim.services.demo_world import DEMO_PASSWORD
from ansim.settings import Settings, VerificationSettings
from ansim.sim.live import demo_scenario, live_demo
from ansim.sim.runner import throwaway_sqlite
from ansim.store.db import make_engine

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]
# Bounds for a loaded two-core machine; at 10x speed each step takes seconds when it is idle.
WAIT_MS = 90_000


@pytest.fixture
def demo_server(tmp_path: Path, sqlite_template: Path) -> Iterator[LiveServer]:
    path = tmp_path / "demo.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    engine = throwaway_sqlite(make_engine(url))
    settings = Settings(
        database_url=url,
        demo=True,
        outbox_poll_s=0.1,
        verification=VerificationSettings(link_secret="live demo test key"),
    )
    demo = live_demo(settings, engine, scenario=demo_scenario(rate=120), speed=10)
    with serving(demo.app) as live:
        yield live
    engine.dispose()
    # The server's shutdown stopped the simulation's thread; nothing is left running.
    assert not [t for t in threading.enumerate() if t.name == "simulation"]


def _unit_markers(page: Any) -> dict[str, str]:
    positions: dict[str, str] = page.eval_on_selector_all(
        "path.unit-marker",
        "paths => Object.fromEntries(paths.map((p) => [p.getAttribute('class'), p.getAttribute('d')]))",
    )
    return positions


def test_the_live_demo_shows_drill_sos_moving_cars_and_their_progress(
    demo_server: LiveServer, page: Any, tmp_path: Path
) -> None:
    base = demo_server.url
    page.goto(f"{base}/login?next=/board")
    page.fill("input[name=username]", "dispatcher")
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/board")
    page.wait_for_selector("[data-testid=live].on", timeout=WAIT_MS)

    # A drill SOS in the queue, flagged as such, and its marker on the map.
    drill = page.locator("[data-testid=queue-item]:has(.badge.drill)").first
    drill.wait_for(timeout=WAIT_MS)
    incident_id = drill.get_attribute("data-incident-id")
    page.locator(f"path.incident-{incident_id}").wait_for(timeout=WAIT_MS)
    assert page.locator("[data-testid=queue-item]:not(:has(.badge.drill))").count() == 0

    # A car moves on the map: its marker is redrawn elsewhere (before any click: a zoom redraws all).
    page.locator("path.unit-marker").first.wait_for(timeout=WAIT_MS)
    before = _unit_markers(page)
    assert len(before) > 10
    page.wait_for_function(
        """(before) => [...document.querySelectorAll('path.unit-marker')].some((p) => {
             const was = before[p.getAttribute('class')];
             return was !== undefined && was !== p.getAttribute('d');
           })""",
        arg=before,
        timeout=WAIT_MS,
    )

    # An incident moves on: verification decided (danger / false alarm) or a car on scene.
    progressed = page.locator(
        "[data-testid=queue-item]:has(.badge.drill)",
        has_text=re.compile("위험 확인|오인 신고|현장 도착"),
    ).first
    progressed.wait_for(timeout=WAIT_MS)
    progressed.click()

    # Its detail: a crew acknowledged the order, the guardians' text messages were delivered, and a
    # guardian's answer on the page or the answer deadline decided the verification. (The panel is
    # redrawn on every event about the incident; each wait finds the section in the latest drawing.)
    units = page.locator("[data-testid=units]")
    units.filter(has_text=re.compile("출동 중|현장 도착|종료")).first.wait_for(timeout=WAIT_MS)
    verification = page.locator("[data-section=verification]")
    verification.locator("li.delivery[data-status=delivered]").first.wait_for(timeout=WAIT_MS)
    decided = verification.locator(".verification-state:not([data-state=pending])").first
    decided.wait_for(timeout=WAIT_MS)
    assert decided.get_attribute("data-state") in {"danger", "mistake", "stood_down"}
    page.screenshot(path=str(tmp_path / "live-demo.png"))
