"""Staff login: the TOTP second factor, recovery codes, lockout and back-off, revocation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest
from tests.factories import PASSWORD
from tests.security_fixtures import SecureApp, secure_app

from ansim.security import audit
from ansim.store.db import make_session_factory
from ansim.store.uow import UnitOfWork


@pytest.fixture
def secured(tmp_path: Path, sqlite_template: Path) -> Iterator[SecureApp]:
    # Enrolment codes have their own tests (test_security_review_totp.py); these enrol without.
    yield from secure_app(
        tmp_path, sqlite_template, require_totp=True, totp_enrolment_code_required=False
    )


def _login(app: SecureApp, username: str, **extra: str) -> tuple[int, dict[str, object]]:
    app.client.cookies.clear()
    answer = app.client.post(
        "/api/v1/session", json={"username": username, "password": PASSWORD, **extra}
    )
    return answer.status_code, answer.json() | {"_headers": dict(answer.headers)}


def _enrol(app: SecureApp, username: str) -> tuple[pyotp.TOTP, list[str], dict[str, str]]:
    status, body = _login(app, username)
    assert status == 200
    assert body["enrolment_required"] is True
    bearer = {"Authorization": f"Bearer {body['token']}"}
    uri = app.client.post("/api/v1/session/totp", headers=bearer).json()["otpauth_uri"]
    factor = pyotp.parse_uri(uri)
    assert isinstance(factor, pyotp.TOTP)
    code = factor.at(app.clock.now)
    confirmed = app.client.post("/api/v1/session/totp/confirm", json={"code": code}, headers=bearer)
    assert confirmed.status_code == 200, confirmed.text
    return factor, confirmed.json()["recovery_codes"], bearer


def test_a_dispatcher_must_enrol_totp_before_seeing_anything(secured: SecureApp) -> None:
    client = secured.client
    status, body = _login(secured, "dispatcher")
    assert status == 200
    assert body["enrolment_required"] is True
    bearer = {"Authorization": f"Bearer {body['token']}"}
    refused = client.get("/api/v1/incidents", headers=bearer)
    assert refused.status_code == 403
    assert "second factor" in refused.json()["detail"]
    assert client.get("/api/v1/session", headers=bearer).status_code == 200
    uri = client.post("/api/v1/session/totp", headers=bearer).json()["otpauth_uri"]
    factor = pyotp.parse_uri(uri)
    wrong = client.post("/api/v1/session/totp/confirm", json={"code": "000000"}, headers=bearer)
    assert wrong.status_code == 422
    good = client.post(
        "/api/v1/session/totp/confirm", json={"code": factor.at(secured.clock.now)}, headers=bearer
    )
    assert good.status_code == 200
    assert len(good.json()["recovery_codes"]) == 10
    assert client.get("/api/v1/incidents", headers=bearer).status_code == 200  # session upgraded


def test_once_enrolled_login_needs_a_fresh_code_or_a_recovery_code(secured: SecureApp) -> None:
    factor, recovery, _bearer = _enrol(secured, "supervisor")
    status, body = _login(secured, "supervisor")
    assert status == 401
    assert body["_headers"]["x-second-factor"] == "totp"
    replay = factor.at(secured.clock.now)  # the code the enrolment used
    assert _login(secured, "supervisor", otp=replay)[0] == 401
    secured.clock.advance(60)
    status, body = _login(secured, "supervisor", otp=factor.at(secured.clock.now))
    assert status == 200
    assert body["enrolment_required"] is False
    assert _login(secured, "supervisor", recovery_code=recovery[0])[0] == 200
    assert _login(secured, "supervisor", recovery_code=recovery[0])[0] == 401  # used up


def test_officers_log_in_with_the_password_alone(secured: SecureApp) -> None:
    status, body = _login(secured, "officer")
    assert status == 200
    assert body["enrolment_required"] is False


def test_repeated_failures_lock_the_account_with_back_off_and_survive_a_restart(
    secured: SecureApp,
) -> None:
    client = secured.client
    for _ in range(5):
        wrong = client.post("/api/v1/session", json={"username": "officer", "password": "nope"})
        assert wrong.status_code in (401, 429)
    locked = client.post("/api/v1/session", json={"username": "officer", "password": PASSWORD})
    assert locked.status_code == 429
    assert int(locked.headers["retry-after"]) > 0
    secured.clock.advance(31)
    assert _login(secured, "officer")[0] == 200
    with UnitOfWork(make_session_factory(secured.engine)).read() as session:
        actions = [e.action for e in audit.search(session, actor="officer")]
    assert actions.count("login.failed") == 5
    assert "login.locked" in actions


def test_one_address_trying_many_names_is_locked_too(secured: SecureApp) -> None:
    client = secured.client
    for name in ("a1", "a2", "a3", "a4", "a5"):
        client.post("/api/v1/session", json={"username": name, "password": "guess-guess"})
    answer = client.post("/api/v1/session", json={"username": "officer", "password": PASSWORD})
    assert answer.status_code == 429


def test_logout_revokes_the_session(secured: SecureApp) -> None:
    _status, body = _login(secured, "officer")
    bearer = {"Authorization": f"Bearer {body['token']}"}
    assert secured.client.delete("/api/v1/session", headers=bearer).status_code == 204
    assert secured.client.get("/api/v1/units", headers=bearer).status_code == 401
