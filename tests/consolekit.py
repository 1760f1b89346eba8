"""Every console page in a real browser, logged in or not, in Korean or English: what the
translation, raw-enum and accessibility tests walk through.

One server per test module: a world with an SOS (auto-dispatched, so the MDT has an order), a
CCTV operator with a district and a camera, a guardian link. Staff here have user names that are
not enum values ("dispatcher" as a user name would look like a raw role on the page).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
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
from ansim.domain.staff import Role
from ansim.services import staff
from ansim.settings import Settings, VerificationSettings
from ansim.store.db import make_engine, make_session_factory
from ansim.store.uow import UnitOfWork

AXE = Path(__file__).resolve().parent / "a11y" / "node_modules" / "axe-core" / "axe.min.js"
# User names and display names that cannot be mistaken for an enum value on a page.
STAFF = {
    Role.DISPATCHER: ("kim.sanghwang", "김상황"),
    Role.SUPERVISOR: ("han.timjang", "한팀장"),
    Role.OFFICER: ("lee.sunchal", "이순찰"),
    Role.CCTV_OPERATOR: ("park.gwanje", "박관제"),
    Role.ADMIN: ("choi.gwalli", "최관리"),
}


@dataclass
class Consoles:
    live: LiveServer
    world: World
    incident_id: str
    guardian_link: str
    expired_link: str

    @property
    def url(self) -> str:
        return self.live.url


@pytest.fixture(scope="module")
def consoles(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Consoles]:
    path = tmp_path_factory.mktemp("consoles") / "consoles.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    world = build_world(engine)
    with UnitOfWork(make_session_factory(engine)).begin() as session:
        for role, (username, display) in STAFF.items():
            staff.create_user(
                session,
                username=username,
                password=PASSWORD,
                role=role,
                display_name=display,
                at=world_time(),
                unit_id=world.unit_ids["태평로11"] if role == Role.OFFICER else None,
            )
    settings = Settings(
        database_url=url,
        outbox_poll_s=0.05,
        verification=VerificationSettings(link_secret="console test key"),
        demo=True,  # the demo phone page exists only in demo mode
    )
    with (
        serving(create_app(settings, engine=engine)) as live,
        httpx.Client(base_url=live.url) as http,
    ):
        admin = _bearer(http, STAFF[Role.ADMIN][0])
        http.put(
            f"/api/v1/cctv/operators/{STAFF[Role.CCTV_OPERATOR][0]}/area",
            json={"gu": "중구"},
            headers=admin,
        ).raise_for_status()
        http.post(
            "/api/v1/cctv/cameras",
            json={"gu": "중구", "address": "시청 앞", "lat": 37.5668, "lon": 126.978, "ptz": False},
            headers=admin,
        ).raise_for_status()
        sos = http.post(
            "/api/v1/app/sos", **app_request(world.app_credential, SOS_BODY, "console-kit-01")
        )
        assert sos.status_code == 201, sos.text
        incident_id = sos.json()["incident_id"]
        # The crew acknowledges at once: an order left waiting would move on after 30 s, and the
        # MDT pages of a long module would find no order.
        officer = _bearer(http, STAFF[Role.OFFICER][0])
        unit_id = world.unit_ids["태평로11"]
        orders = http.get(f"/api/v1/units/{unit_id}/orders", headers=officer).json()
        assert orders, "the SOS was not dispatched to 태평로11"
        http.post(
            f"/api/v1/assignments/{orders[0]['assignment']['id']}/acknowledge", headers=officer
        ).raise_for_status()
        context: AppContext = live.app.state.context
        assert context.verification is not None
        with make_session_factory(engine)() as session:
            guardian_id = session.query(Guardian).one().id
        link = context.verification.link(
            incident_id=incident_id,
            recipient_id=guardian_id,
            kind=RecipientKind.GUARDIAN,
            at=context.now(),
        )
        expired = context.verification.link(
            incident_id=incident_id,
            recipient_id=guardian_id,
            kind=RecipientKind.GUARDIAN,
            at=context.now() - context.verification.link_ttl - timedelta(hours=1),
        )
        base = link.split("/g/", 1)[0]
        yield Consoles(
            live, world, incident_id, link.replace(base, live.url), expired.replace(base, live.url)
        )
    engine.dispose()


def world_time() -> Any:
    from tests.factories import T0

    return T0


def _bearer(http: httpx.Client, username: str) -> dict[str, str]:
    answer = http.post("/api/v1/session", json={"username": username, "password": PASSWORD})
    answer.raise_for_status()
    return {"Authorization": f"Bearer {answer.json()['token']}"}


def log_in(page: Any, base: str, role: Role) -> None:
    """The page's browser context gets the staff session cookie (as the login form would)."""
    answer = page.request.post(
        f"{base}/api/v1/session", data={"username": STAFF[role][0], "password": PASSWORD}
    )
    assert answer.ok, answer.text()


@dataclass(frozen=True)
class ConsolePage:
    """One page as a person sees it. `route` is the app's path that serves `file` (under
    web/static): tests/test_pages_covered.py checks every HTML route and file has a ConsolePage."""

    name: str
    role: Role | None
    open: Callable[[Any, Consoles], None]
    route: str
    file: str


def _board(page: Any, kit: Consoles) -> None:
    page.goto(f"{kit.url}/board")
    item = page.locator(f"[data-incident-id='{kit.incident_id}']")
    item.wait_for(timeout=10000)
    page.locator(f"[data-incident-id='{kit.incident_id}'] .who", has_text="김하늘").wait_for()
    item.click()
    page.locator("[data-section=verification] h3").wait_for(timeout=10000)
    page.locator("[data-section=dispatch] h3").wait_for(timeout=10000)


def _supervisor_board(page: Any, kit: Consoles) -> None:
    _board(page, kit)
    page.locator("#shift-figures dt").first.wait_for(timeout=10000)


def _mdt(page: Any, kit: Consoles) -> None:
    page.goto(f"{kit.url}/mdt")
    page.locator("#order").wait_for(state="visible", timeout=10000)
    page.locator("#eta").filter(has_text="·").or_(page.locator("#eta:not(:empty)")).first.wait_for()


def _cctv(page: Any, kit: Consoles) -> None:
    page.goto(f"{kit.url}/cctv")
    item = page.locator(f"#incidents li[data-id='{kit.incident_id}']")
    item.wait_for(timeout=10000)
    item.click()
    page.locator("#cameras li").first.wait_for(timeout=10000)


def _login(page: Any, kit: Consoles) -> None:
    page.goto(f"{kit.url}/login")
    page.locator("#login-form").wait_for()


def _mdt_login(page: Any, kit: Consoles) -> None:
    page.goto(f"{kit.url}/mdt")
    page.locator("#login").wait_for(state="visible")


def _cctv_login(page: Any, kit: Consoles) -> None:
    page.goto(f"{kit.url}/cctv")
    page.locator("#login").wait_for(state="visible")


def _app(page: Any, kit: Consoles) -> None:
    page.goto(f"{kit.url}/app")
    page.locator("#register").wait_for(state="visible")


def _guardian(page: Any, kit: Consoles) -> None:
    page.goto(kit.guardian_link)
    page.locator("#situation").filter(has_text="김하늘").wait_for(timeout=10000)


def _enrol(page: Any, kit: Consoles) -> None:
    page.goto(f"{kit.url}/admin/enrol")
    page.locator("#person").wait_for()


def _fleet_admin(page: Any, kit: Consoles) -> None:
    page.goto(f"{kit.url}/admin/fleet")
    page.locator("#units tr").first.wait_for()


def _fleet_admin_dialog(page: Any, kit: Consoles) -> None:
    _fleet_admin(page, kit)
    page.locator("#units tr button").first.click()
    page.locator("#unit-dialog").wait_for(state="visible")


def _guardian_expired(page: Any, kit: Consoles) -> None:
    page.goto(kit.expired_link)
    page.locator("main").wait_for()


def _guardian_invalid(page: Any, kit: Consoles) -> None:
    page.goto(f"{kit.url}/g/not-a-link")
    page.locator("main").wait_for()


def _staff_admin(page: Any, kit: Consoles) -> None:
    page.goto(f"{kit.url}/admin/staff")
    page.locator(f"#staff tr[data-username='{STAFF[Role.ADMIN][0]}']").wait_for()


def _demo_phone(page: Any, kit: Consoles) -> None:
    page.goto(f"{kit.url}/demo/phone")
    page.locator("#phone button[type=submit]").click()
    page.locator("#result:not(:empty)").wait_for()


PAGES = [
    ConsolePage("login", None, _login, "/login", "login.html"),
    ConsolePage("board", Role.DISPATCHER, _board, "/board", "board.html"),
    ConsolePage("board-supervisor", Role.SUPERVISOR, _supervisor_board, "/board", "board.html"),
    ConsolePage("mdt-login", None, _mdt_login, "/mdt", "mdt/index.html"),
    ConsolePage("mdt", Role.OFFICER, _mdt, "/mdt", "mdt/index.html"),
    ConsolePage("cctv-login", None, _cctv_login, "/cctv", "cctv/index.html"),
    ConsolePage("cctv", Role.CCTV_OPERATOR, _cctv, "/cctv", "cctv/index.html"),
    ConsolePage("app", None, _app, "/app/", "app/index.html"),
    ConsolePage("guardian", None, _guardian, "/g/{token}", "guardian/index.html"),
    ConsolePage("guardian-expired", None, _guardian_expired, "/g/{token}", "guardian/expired.html"),
    ConsolePage("guardian-invalid", None, _guardian_invalid, "/g/{token}", "guardian/invalid.html"),
    ConsolePage("enrol", Role.ADMIN, _enrol, "/admin/enrol", "enrol/index.html"),
    ConsolePage("fleet-admin", Role.ADMIN, _fleet_admin, "/admin/fleet", "admin/fleet.html"),
    ConsolePage(
        "fleet-admin-edit", Role.ADMIN, _fleet_admin_dialog, "/admin/fleet", "admin/fleet.html"
    ),
    ConsolePage("staff-admin", Role.ADMIN, _staff_admin, "/admin/staff", "admin/staff.html"),
    ConsolePage("demo-phone", None, _demo_phone, "/demo/phone", "demo/phone.html"),
]

# Served as HTML but not a page of ours: the bundled Swagger UI (third-party, English, for API
# developers on the operations network; its bilingual part is the OpenAPI summary it shows).
NOT_OURS = {"/docs": "docs.html"}


def new_page(chromium: Any, lang: str, *, width: int = 1600, height: int = 1000) -> Any:
    """A fresh context in `lang` (browser locale and the pages' remembered choice)."""
    context = chromium.new_context(
        locale="ko-KR" if lang == "ko" else "en-GB", viewport={"width": width, "height": height}
    )
    context.add_init_script(f"localStorage.setItem('ansim.lang', '{lang}')")
    return context.new_page()
