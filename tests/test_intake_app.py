"""The 112 app: OTP registration, signed SOS and fixes, cancel with PIN, duress PIN, profile."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from tests.apiclient import app_auth, app_request, staff_headers
from tests.factories import T0, World, build_world
from tests.intakekit import Clock, clocked_app

from ansim.services import app_accounts
from ansim.store.db import make_session_factory
from ansim.store.tables import outbox
from ansim.store.uow import UnitOfWork

PHONE = "010-2222-3333"
E164 = "+821022223333"


@pytest.fixture
def app(engine: Engine, database_url: str) -> Iterator[tuple[TestClient, World, Clock, Engine]]:
    world = build_world(engine)
    clock = Clock(T0)
    with clocked_app(engine, database_url, clock) as client:
        yield client, world, clock, engine


def _last_code(engine: Engine, number: str) -> str:
    with UnitOfWork(make_session_factory(engine)).read() as session:
        body = app_accounts.outbox_messages(session, to_number=number)[-1]
    found = re.search(r"\d{6}", body)
    assert found is not None
    return found.group()


def _signed(
    credential: str, body: dict[str, Any], clock: Clock, key: str | None = None
) -> dict[str, Any]:
    return app_request(credential, body, key, at=clock.now)


def _register(client: TestClient, engine: Engine, client_id: str = "client-0001") -> str:
    challenge = client.post(
        "/api/v1/app/register", json={"phone_number": PHONE, "client_id": client_id}
    )
    assert challenge.status_code == 202, challenge.text
    answer = client.post(
        "/api/v1/app/register/verify",
        json={
            "challenge_id": challenge.json()["challenge_id"],
            "phone_number": PHONE,
            "code": _last_code(engine, E164),
            "pin": "2580",
            "duress_pin": "0852",
            "name": "이서연",
            "birth_year": 1994,
        },
    )
    assert answer.status_code == 201, answer.text
    credential: str = answer.json()["credential"]
    return credential


def _sos(client: TestClient, credential: str, clock: Clock, key: str = "press-0001") -> str:
    body = {"fix": {"lat": 37.5665, "lon": 126.978, "accuracy_m": 15, "method": "gnss"}}
    answer = client.post("/api/v1/app/sos", **_signed(credential, body, clock, key))
    assert answer.status_code in (200, 201), answer.text
    incident_id: str = answer.json()["incident_id"]
    return incident_id


def test_registration_by_code_gives_a_credential_that_sends_a_signed_sos(
    app: tuple[TestClient, World, Clock, Engine],
) -> None:
    client, _, clock, engine = app
    credential = _register(client, engine)
    incident_id = _sos(client, credential, clock)
    profile = client.get("/api/v1/app/profile", auth=app_auth(credential, at=clock.now)).json()
    assert profile["name"] == "이서연"
    update = {
        "name": "이서연",
        "birth_year": 1994,
        "guardians": [{"name": "이민호", "phone": "010-9999-0000", "relation": "brother"}],
    }
    assert (
        client.put("/api/v1/app/profile", **_signed(credential, update, clock)).status_code == 200
    )
    detail = client.get(
        f"/api/v1/incidents/{incident_id}", headers=staff_headers(client, "dispatcher")
    ).json()
    assert detail["person"]["name"] == "이서연"
    assert detail["guardians"] == [
        {"name": "이민호", "phone": "+821099990000", "relation": "brother"}
    ]


def test_wrong_codes_are_limited_expired_codes_refused_and_requests_rate_limited(
    app: tuple[TestClient, World, Clock, Engine],
) -> None:
    client, _, clock, engine = app
    challenge = client.post(
        "/api/v1/app/register", json={"phone_number": PHONE, "client_id": "client-0002"}
    ).json()
    good = _last_code(engine, E164)
    wrong = f"{(int(good) + 1) % 10**6:06d}"
    attempt = {
        "challenge_id": challenge["challenge_id"],
        "phone_number": PHONE,
        "pin": "2580",
        "duress_pin": "0852",
        "name": "x",
        "birth_year": 1990,
    }
    statuses = [
        client.post("/api/v1/app/register/verify", json={**attempt, "code": wrong}).status_code
        for _ in range(5)
    ]
    assert statuses == [403] * 5
    assert (
        client.post("/api/v1/app/register/verify", json={**attempt, "code": good}).status_code
        == 429
    )
    fresh = client.post(
        "/api/v1/app/register", json={"phone_number": PHONE, "client_id": "client-0002"}
    ).json()
    clock.now = T0 + timedelta(minutes=5, seconds=1)
    late = {**attempt, "challenge_id": fresh["challenge_id"], "code": _last_code(engine, E164)}
    assert client.post("/api/v1/app/register/verify", json=late).status_code == 410
    assert (
        client.post(
            "/api/v1/app/register", json={"phone_number": PHONE, "client_id": "client-0002"}
        ).status_code
        == 202
    )
    assert (
        client.post(
            "/api/v1/app/register", json={"phone_number": PHONE, "client_id": "client-0003"}
        ).status_code
        == 429
    )


def test_fixes_stream_in_batches_and_bad_signatures_are_refused(
    app: tuple[TestClient, World, Clock, Engine],
) -> None:
    client, _, clock, engine = app
    credential = _register(client, engine)
    incident_id = _sos(client, credential, clock)
    batch = {
        "fixes": [
            {
                "lat": 37.5670 + i * 1e-4,
                "lon": 126.9785,
                "accuracy_m": 8,
                "method": "gnss",
                "observed_at": (T0 + timedelta(seconds=i)).isoformat(),
            }
            for i in range(3)
        ]
    }
    stored = client.post(
        f"/api/v1/app/incidents/{incident_id}/fixes", **_signed(credential, batch, clock)
    )
    assert stored.status_code == 200
    assert stored.json() == {"stored": 3}
    forged = _signed(credential, batch, clock)
    forged["content"] = forged["content"].replace(b"37.567", b"37.667")
    assert client.post(f"/api/v1/app/incidents/{incident_id}/fixes", **forged).status_code == 401
    unsigned = client.post(
        f"/api/v1/app/incidents/{incident_id}/fixes",
        json=batch,
        headers={"Authorization": f"Bearer {credential}"},
    )
    assert unsigned.status_code == 401
    detail = client.get(
        f"/api/v1/incidents/{incident_id}", headers=staff_headers(client, "dispatcher")
    ).json()
    assert len(detail["fixes"]) == 4
    with engine.connect() as conn:
        located = conn.execute(
            sa.select(sa.func.count())
            .select_from(outbox)
            .where(outbox.c.type == "incident.located")
        ).scalar_one()
    assert located == 2  # the SOS's fix, then the batch of three at once
    too_many = {"fixes": batch["fixes"] * 34}
    answer = client.post(
        f"/api/v1/app/incidents/{incident_id}/fixes", **_signed(credential, too_many, clock)
    )
    assert answer.status_code == 422
    assert "100" in answer.text
    # The board shows the fused estimate: near the newest fix, well inside a few GNSS radii.
    assert detail["incident"]["location"]["lat"] == pytest.approx(37.5672, abs=2e-4)
    assert detail["incident"]["location"]["method"] == "gnss"


def test_a_wrong_pin_never_cancels_and_the_right_pin_does(
    app: tuple[TestClient, World, Clock, Engine],
) -> None:
    client, _, clock, engine = app
    credential = _register(client, engine)
    incident_id = _sos(client, credential, clock)
    cancel = f"/api/v1/app/incidents/{incident_id}/cancel"
    assert client.post(cancel, **_signed(credential, {"pin": "1111"}, clock)).status_code == 403
    board = staff_headers(client, "dispatcher")
    detail = client.get(f"/api/v1/incidents/{incident_id}", headers=board).json()
    assert (
        detail["incident"]["status"] == "verifying"
    )  # not cancelled: help is on its way, guardians being asked
    assert "cancel_refused" in [e["kind"] for e in detail["timeline"]]
    assert (
        client.post(cancel, **_signed(credential, {"pin": "2580"}, clock)).json()["status"]
        == "cancelled"
    )
    assert (
        client.get(f"/api/v1/incidents/{incident_id}", headers=board).json()["incident"]["status"]
        == "cancelled"
    )


def test_the_duress_pin_looks_cancelled_to_the_phone_and_escalates_on_the_board(
    app: tuple[TestClient, World, Clock, Engine],
) -> None:
    client, _, clock, engine = app
    credential = _register(client, engine)
    incident_id = _sos(client, credential, clock)
    board = staff_headers(client, "dispatcher")
    with client.websocket_connect("/api/v1/stream", headers=board) as stream:
        answer = client.post(
            f"/api/v1/app/incidents/{incident_id}/cancel",
            **_signed(credential, {"pin": "0852"}, clock),
        )
        assert answer.status_code == 200
        assert answer.json()["status"] == "cancelled"
        kinds: list[str] = []
        while "incident.priority_changed" not in kinds:
            kinds.append(json.loads(stream.receive_text())["type"])
    assert kinds[-2:] == ["incident.duress", "incident.priority_changed"]
    seen = client.get(
        f"/api/v1/app/incidents/{incident_id}", auth=app_auth(credential, at=clock.now)
    ).json()
    assert seen["status"] == "cancelled"
    incident = client.get(f"/api/v1/incidents/{incident_id}", headers=board).json()["incident"]
    assert (incident["duress"], incident["priority"], incident["status"]) == (True, 0, "verifying")
    # The real PIN afterwards cannot undo a duress escalation.
    client.post(
        f"/api/v1/app/incidents/{incident_id}/cancel", **_signed(credential, {"pin": "2580"}, clock)
    )
    assert (
        client.get(f"/api/v1/incidents/{incident_id}", headers=board).json()["incident"]["status"]
        == "verifying"
    )
