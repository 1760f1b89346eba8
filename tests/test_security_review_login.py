"""Security review (issue 19): login throttling must not lock out the wrong people."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyotp
import pytest
import sqlalchemy as sa
from tests.factories import PASSWORD
from tests.security_fixtures import SecureApp, secure_app

from ansim.api.auth import real_client
from ansim.security import audit, throttle
from ansim.settings import Settings
from ansim.store.db import make_session_factory
from ansim.store.uow import UnitOfWork


@pytest.fixture
def secured(tmp_path: Path, sqlite_template: Path) -> Iterator[SecureApp]:
    # Enrolment codes have their own tests (test_security_review_totp.py); these enrol without.
    yield from secure_app(
        tmp_path, sqlite_template, require_totp=True, totp_enrolment_code_required=False
    )


def _login(app: SecureApp, username: str, password: str = PASSWORD, **extra: str) -> int:
    app.client.cookies.clear()
    answer = app.client.post(
        "/api/v1/session", json={"username": username, "password": password, **extra}
    )
    return answer.status_code


def _enrol(app: SecureApp, username: str) -> pyotp.TOTP:
    app.client.cookies.clear()
    body = app.client.post(
        "/api/v1/session", json={"username": username, "password": PASSWORD}
    ).json()
    bearer = {"Authorization": f"Bearer {body['token']}"}
    uri = app.client.post("/api/v1/session/totp", headers=bearer).json()["otpauth_uri"]
    factor = pyotp.parse_uri(uri)
    assert isinstance(factor, pyotp.TOTP)
    confirmed = app.client.post(
        "/api/v1/session/totp/confirm", json={"code": factor.at(app.clock.now)}, headers=bearer
    )
    assert confirmed.status_code == 200, confirmed.text
    app.clock.advance(60)
    return factor


def test_finding_login_throttle_spraying_does_not_refuse_a_full_credential(
    secured: SecureApp,
) -> None:
    """Five failures under other names from one address must not refuse password + valid TOTP."""
    factor = _enrol(secured, "dispatcher")
    for name in ("ghost1", "ghost2", "ghost3", "ghost4", "ghost5", "ghost6"):
        assert _login(secured, name, "wrong password 1") in {401, 429}
    assert _login(secured, "supervisor") == 429  # the address is locked for anything less
    assert _login(secured, "dispatcher", otp=factor.at(secured.clock.now)) == 200


def test_finding_login_throttle_spraying_is_reported(secured: SecureApp) -> None:
    for name in ("ghost1", "ghost2", "ghost3", "ghost4", "ghost5"):
        _login(secured, name, "wrong password 1")
    with UnitOfWork(make_session_factory(secured.engine)).read() as session:
        found = audit.search(session, action="login.spraying_suspected", limit=10)
        events = session.execute(
            sa.text("SELECT type FROM outbox WHERE type = :t"),
            {"t": "security.login_spraying"},
        ).all()
    assert len(found) == 1
    assert found[0].detail["address"] == "127.0.0.1"
    assert len(events) == 1
    metrics = secured.client.get("/metrics").text
    assert "ansim_login_spraying_suspected_total" in metrics


def test_finding_login_throttle_address_counts_decay() -> None:
    """Single typos by different people over a shift never add up to an hour's lock."""
    at = datetime(2026, 12, 5, 8, tzinfo=UTC)
    policy = throttle.Policy()
    assert (
        throttle.decayed(8, since=at, at=at + timedelta(minutes=10), half_life=policy.half_life)
        == 4
    )
    assert (
        throttle.decayed(8, since=at, at=at + timedelta(minutes=40), half_life=policy.half_life)
        == 0
    )
    assert throttle.decayed(3, since=at, at=at, half_life=policy.half_life) == 3


def test_finding_login_throttle_typos_spread_over_a_shift_never_lock(secured: SecureApp) -> None:
    for index in range(12):
        assert _login(secured, f"officer-{index}", "typo typo typo") == 401
        secured.clock.advance(15 * 60)
    assert _login(secured, "supervisor") == 200


def test_finding_login_throttle_uses_the_real_client_behind_a_trusted_proxy() -> None:
    trusted = Settings(trusted_proxies=["10.0.0.0/8"]).trusted_proxy_networks()
    assert real_client("10.0.0.5", "198.51.100.7", trusted) == "198.51.100.7"
    # A client cannot choose its address by prepending to the header.
    assert real_client("10.0.0.5", "1.2.3.4, 198.51.100.7", trusted) == "198.51.100.7"
    assert real_client("10.0.0.5", "198.51.100.7, 10.0.0.9", trusted) == "198.51.100.7"
    # From an untrusted peer the header is ignored.
    assert real_client("203.0.113.1", "198.51.100.7", trusted) == "203.0.113.1"
    assert real_client("203.0.113.1", "198.51.100.7", ()) == "203.0.113.1"
