"""Screenshots of every console from the running demo, for README.md and docs/consoles.md.

    .venv/bin/python docs/screenshots.py            # writes docs/images/*.png and manifest.json

Starts the live demo (drill SOS at 10x speed) on a scratch SQLite file, drives Debian's chromium
with Playwright as each user would, and records in docs/images/manifest.json which page and which
commit each picture shows. tests/test_docs_images.py checks that the docs show only these pictures.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT / "docs" / "images"
sys.path.insert(0, str(ROOT))

WAIT_MS = 90_000


def main() -> None:
    from playwright.sync_api import sync_playwright

    from ansim.domain.deliveries import RecipientKind
    from ansim.domain.people import Guardian
    from ansim.services.demo_world import DEMO_PASSWORD
    from ansim.settings import Settings, VerificationSettings
    from ansim.sim.live import demo_scenario, live_demo
    from ansim.sim.runner import throwaway_sqlite
    from ansim.store.db import make_engine, make_session_factory
    from ansim.store.migrate import upgrade
    from tests.live import CHROMIUM, CHROMIUM_ARGS, serving

    IMAGES.mkdir(parents=True, exist_ok=True)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    shots: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite:///{scratch}/demo.db"
        upgrade(url)
        engine = throwaway_sqlite(make_engine(url))
        settings = Settings(
            database_url=url,
            demo=True,
            outbox_poll_s=0.1,
            verification=VerificationSettings(link_secret="screenshots key"),
        )
        demo = live_demo(settings, engine, scenario=demo_scenario(rate=240), speed=10)
        with serving(demo.app) as live, sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
            )

            def shot(name: str, page: Any, path: str) -> None:
                page.wait_for_timeout(800)  # the last drawing settles
                page.screenshot(path=str(IMAGES / f"{name}.png"))
                shots.append({"image": f"images/{name}.png", "page": path, "commit": commit})
                print(f"{name}.png  {path}")

            def desk(width: int = 1600, height: int = 1000) -> Any:
                context = browser.new_context(locale="ko-KR", viewport={"width": width, "height": height})
                return context.new_page()

            def log_in(page: Any, username: str) -> None:
                answer = page.request.post(
                    f"{live.url}/api/v1/session",
                    data={"username": username, "password": DEMO_PASSWORD},
                )
                assert answer.ok, answer.text()

            page = desk()
            page.goto(f"{live.url}/login?next=/board")
            shot("login", page, "/login")
            log_in(page, "dispatcher")
            page.goto(f"{live.url}/board")
            item = page.locator("[data-testid=queue-item]").first
            item.wait_for(timeout=WAIT_MS)
            page.locator("[data-testid=queue-item] .who:not(:text('…'))").first.wait_for(timeout=WAIT_MS)
            page.locator("[data-testid=queue-item]").first.click()
            page.locator("[data-section=verification] h3").wait_for(timeout=WAIT_MS)
            page.click("#alert-ack") if page.locator("#alert-banner").is_visible() else None
            shot("board", page, "/board")
            incident_id = page.locator("[data-testid=queue-item]").first.get_attribute(
                "data-incident-id"
            )

            page = desk()
            log_in(page, "cctv")
            page.goto(f"{live.url}/cctv")
            page.locator("#map[data-basemap=roads]").wait_for(timeout=WAIT_MS)
            first = page.locator("#incidents li").first
            try:
                first.wait_for(timeout=WAIT_MS)
                first.click()
                page.locator("#selection-note:not(:empty)").wait_for(timeout=WAIT_MS)
            except Exception:  # noqa: BLE001 — no drill SOS in 종로구 yet: the empty state is the picture
                pass
            shot("cctv", page, "/cctv")

            phone = browser.new_context(locale="ko-KR", viewport={"width": 390, "height": 844})
            page = phone.new_page()
            log_in(page, "officer1")
            page.goto(f"{live.url}/mdt")
            page.locator("#map[data-basemap=roads]").wait_for(timeout=WAIT_MS)
            shot("mdt", page, "/mdt")

            page = phone.new_page()
            page.goto(f"{live.url}/app")
            page.locator("#register").wait_for(state="visible")
            shot("app", page, "/app")

            context = demo.app.state.context
            with make_session_factory(engine)() as session:
                from ansim.store.tables import incidents

                subscriber_id = session.execute(
                    incidents.select().where(incidents.c.id == incident_id)
                ).one().subscriber_id
                guardian = session.query(Guardian).filter_by(subscriber_id=subscriber_id).first()
            if guardian is not None and context.verification is not None:
                link = context.verification.link(
                    incident_id=incident_id,
                    recipient_id=guardian.id,
                    kind=RecipientKind.GUARDIAN,
                    at=context.now(),
                )
                page = phone.new_page()
                page.goto(f"{live.url}/g/{link.split('/g/', 1)[1]}")
                page.locator("#situation").wait_for()
                shot("guardian", page, "/g/<link>")
            browser.close()
        engine.dispose()
    manifest = {
        "made_by": "docs/screenshots.py",
        "made_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "images": shots,
    }
    (IMAGES / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
