"""Abuse limits and hostile input: body size, security headers, CORS closed, secrets refused, SOS floods fold."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from tests.apiclient import SOS_BODY, app_request, staff_headers
from tests.factories import T0
from tests.security_fixtures import SecureApp, secure_app

from ansim.api.app import create_app
from ansim.security import crypto, throttle
from ansim.security.secrets import InsecureConfiguration
from ansim.settings import Settings
from ansim.store.db import make_session_factory
from ansim.store.tables import incidents
from ansim.store.uow import UnitOfWork


@pytest.fixture
def secured(tmp_path: Path, sqlite_template: Path) -> Iterator[SecureApp]:
    yield from secure_app(tmp_path, sqlite_template, max_body_bytes=4096)


def test_a_body_past_the_limit_is_refused_with_413(secured: SecureApp) -> None:
    big = b'{"username": "' + b"a" * 5000 + b'", "password": "x"}'
    answer = secured.client.post(
        "/api/v1/session", content=big, headers={"content-type": "application/json"}
    )
    assert answer.status_code == 413
    assert "larger than 4096 bytes" in answer.json()["detail"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams
        yield b'{"username": "'
        yield b"a" * 5000
        yield b'", "password": "x"}'

    streamed = secured.client.post(
        "/api/v1/session", content=chunks(), headers={"content-type": "application/json"}
    )
    assert streamed.status_code == 413


def test_security_headers_are_on_every_answer_and_cors_is_closed(secured: SecureApp) -> None:
    for path in ("/board", "/api/v1/units", "/openapi.json"):
        answer = secured.client.get(path, headers={"Origin": "https://evil.example"})
        policy = answer.headers["content-security-policy"]
        assert "script-src 'self'" in policy
        assert "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
        assert "frame-ancestors 'none'" in policy
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["x-frame-options"] == "DENY"
        assert "access-control-allow-origin" not in answer.headers


def test_the_app_refuses_to_start_without_a_real_key_outside_demo() -> None:
    suite_keys = crypto.installed()
    try:
        _refusals()
    finally:
        crypto.install(suite_keys)  # the demo app below installed the demo key


def _refusals() -> None:
    with pytest.raises(InsecureConfiguration, match="no data key"):
        create_app(Settings(database_url="sqlite://", data_key=""))
    with pytest.raises(InsecureConfiguration, match="demo data key"):
        create_app(Settings(database_url="sqlite://", data_key=crypto.DEMO_KEY_TEXT))
    with pytest.raises(InsecureConfiguration, match="32 bytes"):
        create_app(Settings(database_url="sqlite://", data_key="k1:c2hvcnQ="))
    create_app(Settings(database_url="sqlite://", data_key="", demo=True))


def test_a_flood_of_sos_from_one_device_folds_into_its_open_incident(secured: SecureApp) -> None:
    # Thirty presses, each with its own fix (identical signed bytes would be one press replayed).
    answers = [
        secured.client.post(
            "/api/v1/app/sos",
            **app_request(
                secured.world.app_credential,
                {"fix": {**SOS_BODY["fix"], "accuracy_m": 20 + n}},
                f"flood-{n:04d}",
            ),
        )
        for n in range(30)
    ]
    assert answers[0].status_code == 201  # the first is never refused
    assert {a.status_code for a in answers[1:]} == {200}  # the rest join it, none is refused
    assert len({a.json()["incident_id"] for a in answers}) == 1
    with secured.engine.connect() as conn:
        assert conn.execute(sa.select(incidents.c.sos_count)).scalar_one() == 30


def test_registration_and_otp_sends_are_rate_limited_per_key(engine: Engine) -> None:
    uow = UnitOfWork(make_session_factory(engine))
    window = timedelta(minutes=10)
    for n in range(3):
        with uow.begin() as session:
            throttle.hit(
                session,
                key="otp-send:+821012345678",
                at=T0 + timedelta(seconds=n),
                limit=3,
                window=window,
            )
    with pytest.raises(throttle.Locked), uow.begin() as session:
        throttle.hit(
            session,
            key="otp-send:+821012345678",
            at=T0 + timedelta(seconds=5),
            limit=3,
            window=window,
        )
    with uow.begin() as session:  # another number is not affected; the window passes
        throttle.hit(session, key="otp-send:+821099999999", at=T0, limit=3, window=window)
        throttle.hit(
            session,
            key="otp-send:+821012345678",
            at=T0 + window + timedelta(seconds=1),
            limit=3,
            window=window,
        )


def test_finding_the_global_body_limit_does_not_pre_empt_a_csv_import(
    secured: SecureApp,
) -> None:
    """An 88 KB school list passes the 4 KB global limit; the import's own 2 MiB limit still holds."""
    admin = staff_headers(secured.client, "admin")
    header = "name,birth_year,school,guardian_name,guardian_phone,guardian_relation,one_touch_number,consent_date\n"
    rows = "".join(
        f"학생{n:04d},2017,서울덕수초등학교,보호자{n:04d},+8210{5000_0000 + n},부,"
        f"+8210{6000_0000 + n},2026-09-01\n"
        for n in range(1000)
    )
    big = (header + rows).encode()
    assert len(big) > 88_000
    answer = secured.client.post(
        "/api/v1/admin/people/import", content=big, headers={**admin, "content-type": "text/csv"}
    )
    assert answer.status_code == 201, answer.text[:300]
    too_big = secured.client.post(
        "/api/v1/admin/people/import",
        content=b"x" * (2 * 1024 * 1024 + 1),
        headers={**admin, "content-type": "text/csv"},
    )
    assert too_big.status_code == 413
