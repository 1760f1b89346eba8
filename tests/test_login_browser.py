"""Two-step login in the browser: a dispatcher enrols an authenticator, then logs in with a second factor."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyotp
import pytest
from tests.factories import PASSWORD, build_world
from tests.live import LiveServer, serving
from tests.test_consoles_a11y import axe_violations, serve_axe

from ansim.api.app import create_app
from ansim.api.context import AppContext
from ansim.services import staff_commands
from ansim.settings import Settings
from ansim.store.db import make_engine

pytestmark = pytest.mark.browser


@pytest.fixture
def totp_server(
    tmp_path: Path, sqlite_template: Path, request: pytest.FixtureRequest
) -> Iterator[LiveServer]:
    path = tmp_path / "totp.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    build_world(engine)
    app = create_app(
        Settings(database_url=url, outbox_poll_s=0.05, require_totp=True, **request.param),
        engine=engine,
    )
    with serving(app) as live:
        yield live
    engine.dispose()


@pytest.mark.parametrize("totp_server", [{"totp_enrolment_code_required": False}], indirect=True)
def test_a_dispatcher_enrols_an_authenticator_then_needs_a_second_factor(
    totp_server: LiveServer, page: Any
) -> None:
    base = totp_server.url
    page.goto(f"{base}/login?next=/board")
    page.fill("input[name=username]", "dispatcher")
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-form button[type=submit]")
    uri = page.locator("#otpauth")
    uri.wait_for(timeout=10_000)
    secret = pyotp.parse_uri(uri.inner_text()).secret
    page.fill("#enrol-form input[name=code]", pyotp.TOTP(secret).now())
    page.click("#enrol-form button[type=submit]")
    page.locator("#recovery li").first.wait_for(timeout=10_000)
    recovery = page.locator("#recovery li").first.inner_text()

    page.goto(f"{base}/login?next=/board")
    page.fill("input[name=username]", "dispatcher")
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.locator("#otp-row:not([hidden])").wait_for(timeout=10_000)
    page.fill("input[name=otp]", "000000")  # a wrong code
    page.click("#login-form button[type=submit]")
    page.locator("#login-error", has_text="틀렸습니다").wait_for(
        timeout=10_000
    )  # the page speaks Korean here
    page.fill("input[name=otp]", recovery)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(f"{base}/board", timeout=10_000)


@pytest.fixture
def password_server(tmp_path: Path, sqlite_template: Path) -> Iterator[LiveServer]:
    path = tmp_path / "redirect.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    build_world(engine)
    app = create_app(
        Settings(database_url=url, outbox_poll_s=0.05, require_totp=False), engine=engine
    )
    with serving(app) as live:
        yield live
    engine.dispose()


@pytest.mark.parametrize(
    "next_page",
    ["/%5Cevil.example", "//evil.example", "https://evil.example", "/\\evil.example"],
)
def test_finding_the_login_redirect_stays_on_our_origin(
    password_server: LiveServer, page: Any, next_page: str
) -> None:
    base = password_server.url
    left: list[str] = []

    def elsewhere(route: Any) -> None:
        # Any other origin answers here (no network in the test): a page saying where we went.
        left.append(route.request.url)
        route.fulfill(status=200, content_type="text/html", body="<h1>evil</h1>")

    page.route(lambda url: not url.startswith(base), elsewhere)
    page.goto(f"{base}/login?next={next_page}")
    page.fill("input[name=username]", "dispatcher")
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url, timeout=10_000)
    page.wait_for_load_state()
    assert left == []
    assert page.url == f"{base}/board"  # the dispatcher's own page, not the one asked for


@pytest.mark.parametrize("totp_server", [{"totp_enrolment_code_required": True}], indirect=True)
def test_a_dispatcher_enrols_with_the_admins_one_time_code_on_the_login_page(
    totp_server: LiveServer, page: Any
) -> None:
    base = totp_server.url
    context: AppContext = totp_server.app.state.context
    code = staff_commands.do_issue_totp_enrolment_code(
        context.platform, username="dispatcher", valid_for=timedelta(hours=1), actor="admin"
    )
    serve_axe(page, base)
    page.goto(f"{base}/login?next=/board")
    page.fill("input[name=username]", "dispatcher")
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-form button[type=submit]")
    field = page.get_by_label("등록 코드")  # the field's label names it (Korean page)
    field.wait_for(timeout=10_000)
    assert page.evaluate("document.activeElement.name") == "enrolment_code"  # focus moved there
    field.fill("WRONG-CODE-1")
    page.keyboard.press("Enter")  # keyboard only
    page.locator("#login-error", has_text="등록 코드가 맞지 않거나").wait_for(timeout=10_000)
    assert page.locator("#otpauth").count() == 0  # no authenticator without the code
    assert axe_violations(page, base) == []  # the step with its error shown
    page.click("#lang")  # the step follows the language toggle like the rest of the page
    field = page.get_by_label("Enrolment code")
    field.fill(code)
    page.keyboard.press("Enter")
    uri = page.locator("#otpauth")
    uri.wait_for(timeout=10_000)
    secret = pyotp.parse_uri(uri.inner_text()).secret
    page.fill("#enrol-form input[name=code]", pyotp.TOTP(secret).now())
    page.keyboard.press("Enter")
    page.locator("#recovery li").first.wait_for(timeout=10_000)
    assert page.locator("#recovery li").count() == 10
