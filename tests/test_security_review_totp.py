"""Security review (issue 19): TOTP enrolment is no longer trust on first use.

Before: whoever first logged in with a person's password enrolled their own authenticator. With
`totp_enrolment_code_required`, enrolment needs a one-time code an admin issued (or, for the first
admin, `ansim totp-code USER` on the host).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pyotp
import pytest
from tests.factories import PASSWORD
from tests.security_fixtures import SecureApp, secure_app
from tests.verifykit import platform_of

from ansim.cli import main
from ansim.security import audit
from ansim.services import staff_commands
from ansim.store.db import make_session_factory
from ansim.store.uow import UnitOfWork


@pytest.fixture
def secured(tmp_path: Path, sqlite_template: Path) -> Iterator[SecureApp]:
    yield from secure_app(
        tmp_path, sqlite_template, require_totp=True, totp_enrolment_code_required=True
    )


def _password_only(app: SecureApp, username: str) -> dict[str, str]:
    app.client.cookies.clear()
    answer = app.client.post("/api/v1/session", json={"username": username, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    assert answer.json()["enrolment_required"] is True
    app.client.cookies.clear()
    return {"Authorization": f"Bearer {answer.json()['token']}"}


def _enrol(app: SecureApp, bearer: dict[str, str], code: str) -> pyotp.TOTP:
    started = app.client.post("/api/v1/session/totp", json={"enrolment_code": code}, headers=bearer)
    assert started.status_code == 200, started.text
    factor = pyotp.parse_uri(started.json()["otpauth_uri"])
    assert isinstance(factor, pyotp.TOTP)
    confirmed = app.client.post(
        "/api/v1/session/totp/confirm", json={"code": factor.at(app.clock.now)}, headers=bearer
    )
    assert confirmed.status_code == 200, confirmed.text
    app.clock.advance(60)
    return factor


def _full_login(app: SecureApp, username: str, factor: pyotp.TOTP) -> dict[str, str]:
    app.client.cookies.clear()
    answer = app.client.post(
        "/api/v1/session",
        json={"username": username, "password": PASSWORD, "otp": factor.at(app.clock.now)},
    )
    assert answer.status_code == 200, answer.text
    app.client.cookies.clear()
    return {"Authorization": f"Bearer {answer.json()['token']}"}


def test_finding_totp_enrolment_needs_an_admins_one_time_code(
    secured: SecureApp, capsys: pytest.CaptureFixture[str]
) -> None:
    # The first admin's code comes from the host.
    assert main(["totp-code", "admin", "--database-url", secured.url]) == 0
    admin_code = capsys.readouterr().out.split(": ")[1].split()[0]
    admin_factor = _enrol(secured, _password_only(secured, "admin"), admin_code)
    admin = _full_login(secured, "admin", admin_factor)

    # A thief with the dispatcher's password alone cannot enrol their own authenticator.
    thief = _password_only(secured, "dispatcher")
    for body in (None, {"enrolment_code": "0000-guess-0000"}):
        refused = secured.client.post("/api/v1/session/totp", json=body, headers=thief)
        assert refused.status_code == 403, refused.text
        assert "one-time code from an admin" in refused.json()["detail"]

    issued = secured.client.post(
        "/api/v1/admin/staff/dispatcher/totp-enrolment-code", headers=admin
    )
    assert issued.status_code == 201, issued.text
    code = issued.json()["enrolment_code"]
    dispatcher = _password_only(secured, "dispatcher")
    factor = _enrol(secured, dispatcher, code)
    assert _full_login(secured, "dispatcher", factor)
    # The code was spent, and only an admin issues one.
    again = secured.client.post(
        "/api/v1/session/totp", json={"enrolment_code": code}, headers=dispatcher
    )
    assert again.status_code in {403, 409}
    secured.clock.advance(60)
    assert (
        secured.client.post(
            "/api/v1/admin/staff/supervisor/totp-enrolment-code",
            headers=_full_login(secured, "dispatcher", factor),
        ).status_code
        == 403
    )
    with UnitOfWork(make_session_factory(secured.engine)).read() as session:
        assert len(audit.search(session, action="totp.enrolment_code_issued")) == 2
        assert (
            len(audit.search(session, action="totp.enrol_refused")) == 3
        )  # thief twice, spent once


def test_finding_an_enrolment_code_expires(secured: SecureApp) -> None:
    platform = platform_of(UnitOfWork(make_session_factory(secured.engine)), clock=secured.clock)
    code = staff_commands.do_issue_totp_enrolment_code(
        platform, username="supervisor", valid_for=timedelta(hours=24), actor="test"
    )
    secured.clock.advance(timedelta(hours=25).total_seconds())
    bearer = _password_only(secured, "supervisor")
    late = secured.client.post(
        "/api/v1/session/totp", json={"enrolment_code": code}, headers=bearer
    )
    assert late.status_code == 403
    assert main(["totp-code", "nobody", "--database-url", secured.url]) == 2
