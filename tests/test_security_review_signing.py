"""Security review (issue 19): every request of the 112 app carries the install's signature.

A bearer credential alone is a password in a header: anyone who read it once (a proxy log, a
backup of the phone) could send SOS and read the person's profile. The PWA signs every call, so
the server takes nothing unsigned from an install.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from tests.apiclient import SOS_BODY, app_auth, app_request, running_app
from tests.factories import T0, World, build_world
from tests.intakekit import (
    Clock,
    clocked_app,
    enrol_terminal,
    register_carrier,
    terminal_message,
)

from ansim.security.signing import carrier_headers, gateway_headers
from ansim.settings import VerificationSettings
from ansim.store.tables import incident_events, incidents


@pytest.fixture
def api(engine: Engine, database_url: str) -> Iterator[tuple[TestClient, World]]:
    world = build_world(engine)
    with running_app(engine, database_url) as client:
        yield client, world


def _incident_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(incidents)).scalar_one())


def test_finding_unsigned_app_sos_is_refused(api: tuple[TestClient, World], engine: Engine) -> None:
    client, world = api
    bearer = {"Authorization": f"Bearer {world.app_credential}", "Idempotency-Key": "unsigned-01"}
    unsigned = client.post("/api/v1/app/sos", json=SOS_BODY, headers=bearer)
    assert unsigned.status_code == 401, unsigned.text
    assert "signature" in unsigned.json()["detail"].lower()  # the reason, for the integrator
    # A signature over other bytes than those sent is no signature either.
    forged = app_request(world.app_credential, SOS_BODY, "unsigned-02")
    forged["content"] = json.dumps({"fix": {**SOS_BODY["fix"], "lat": 37.0}}).encode()
    assert client.post("/api/v1/app/sos", **forged).status_code == 401
    assert _incident_count(engine) == 0
    signed = client.post(
        "/api/v1/app/sos", **app_request(world.app_credential, SOS_BODY, "signed-01")
    )
    assert signed.status_code == 201, signed.text
    assert _incident_count(engine) == 1


def test_finding_unsigned_app_reads_are_refused(api: tuple[TestClient, World]) -> None:
    client, world = api
    sos = client.post("/api/v1/app/sos", **app_request(world.app_credential, {}, "reads-01"))
    incident_id = sos.json()["incident_id"]
    bearer = {"Authorization": f"Bearer {world.app_credential}"}
    for path in ("/profile", "/installs", f"/incidents/{incident_id}"):
        unsigned = client.get(f"/api/v1/app{path}", headers=bearer)
        assert unsigned.status_code == 401, (path, unsigned.text)
        signed = client.get(f"/api/v1/app{path}", auth=app_auth(world.app_credential))
        assert signed.status_code == 200, (path, signed.text)


@pytest.fixture
def clocked(engine: Engine, database_url: str) -> Iterator[tuple[TestClient, World, Clock]]:
    world = build_world(engine)
    clock = Clock(T0)
    settings = {
        "signature_window_s": 60.0,  # one setting for every timestamped scheme
        "verification": VerificationSettings(sms_gateway_secret="gateway-secret-0001"),
    }
    with clocked_app(engine, database_url, clock, **settings) as client:
        yield client, world, clock


def test_finding_every_signing_scheme_refuses_alike_401_with_a_reason(
    clocked: tuple[TestClient, World, Clock],
) -> None:
    # Before: carriers 401, delivery reports 403, a bad terminal or app signature 401 or 422.
    client, world, _ = clocked
    carrier_secret = register_carrier(client)
    terminal_secret = enrol_terminal(client, world.subscriber_id, "UA-SIGN-1")
    call = {"call_id": "call-sign-1", "caller_number": "+821012345678", "called_at": T0.isoformat()}
    raw = json.dumps(call).encode()
    wrong_carrier = carrier_headers(carrier_id="skt", secret="not-it", body=raw, at=T0)
    report = json.dumps({"message_id": "m-1.1", "status": "delivered"}).encode()
    terminal = json.loads(terminal_message("UA-SIGN-1", terminal_secret, 1, "heartbeat", T0))
    refusals = {
        "carrier": client.post("/api/v1/carrier/sos", content=raw, headers=wrong_carrier),
        "sms gateway": client.post(
            "/api/v1/notify/sms/reports",
            content=report,
            headers=gateway_headers(b"not-it", report, at=T0),
        ),
        "app": client.post(
            "/api/v1/app/sos",
            content=b"{}",
            auth=app_auth(world.app_credential, body=b'{"fix": null}', at=T0),
        ),
        "terminal": client.post(
            "/api/v1/terminals/messages", content=json.dumps({**terminal, "seq": 2}).encode()
        ),
    }
    for scheme, answer in refusals.items():
        assert answer.status_code == 401, (scheme, answer.text)
        detail = answer.json()["detail"]
        assert isinstance(detail, str), scheme
        assert "signature" in detail.lower() or "secret" in detail.lower(), (scheme, detail)
    assert carrier_secret  # the right secret exists: the refusal was the signature's


def test_finding_one_replay_window_and_an_authentic_sos_outside_it_is_taken_and_flagged(
    clocked: tuple[TestClient, World, Clock], engine: Engine
) -> None:
    client, world, _ = clocked
    secret = register_carrier(client)
    late = T0 - timedelta(seconds=90)  # past the 60 s window
    aml = json.dumps({"originating_number": "+821012345678", "text": 'A"ML=1'}).encode()
    stale_aml = client.post(
        "/api/v1/carrier/aml",
        content=aml,
        headers=carrier_headers(carrier_id="skt", secret=secret, body=aml, at=late),
    )
    assert stale_aml.status_code == 401
    assert "window is 60 s" in stale_aml.json()["detail"]
    stale_read = client.get("/api/v1/app/profile", auth=app_auth(world.app_credential, at=late))
    assert stale_read.status_code == 401
    # SOS channels: authentic and outside the window is taken, flagged on the incident.
    app_sos = client.post("/api/v1/app/sos", **app_request(world.app_credential, {}, at=late))
    assert app_sos.status_code == 201, app_sos.text
    call = json.dumps(
        {"call_id": "call-late-1", "caller_number": "+821099998888", "called_at": T0.isoformat()}
    ).encode()
    carrier_sos = client.post(
        "/api/v1/carrier/sos",
        content=call,
        headers=carrier_headers(carrier_id="skt", secret=secret, body=call, at=late),
    )
    assert carrier_sos.status_code == 201, carrier_sos.text
    for answer in (app_sos, carrier_sos):
        with engine.connect() as conn:
            kinds = [
                flag["kind"]
                for data in conn.execute(
                    sa.select(incident_events.c.data).where(
                        incident_events.c.incident_id == answer.json()["incident_id"],
                        incident_events.c.kind == "intake_flagged",
                    )
                ).scalars()
                for flag in data["flags"]
            ]
        assert "signature_clock_skew" in kinds
