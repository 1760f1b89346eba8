"""Revocation everywhere: a person's app install, a terminal, a carrier and its secret."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from tests.apiclient import app_auth, staff_headers
from tests.factories import T0, build_world, seal_audit
from tests.intakekit import (
    Clock,
    carrier_post,
    clocked_app,
    enrol_terminal,
    register_carrier,
    terminal_message,
)

from ansim.cli import main
from ansim.services import people
from ansim.store.db import make_session_factory
from ansim.store.tables import audit_log
from ansim.store.uow import UnitOfWork

CALL = {
    "call_id": "call-revoke-1",
    "caller_number": "010-1234-5678",
    "called_at": T0.isoformat(),
    "network_location": {"lat": 37.566, "lon": 126.979, "radius_m": 800, "confidence": 0.68},
}


def test_a_person_sees_their_installs_and_revokes_an_old_phone(
    engine: Engine, database_url: str
) -> None:
    world = build_world(engine)
    with UnitOfWork(make_session_factory(engine)).begin() as session:
        old_phone = people.issue_app_credential(session, subscriber_id=world.subscriber_id, at=T0)
    clock = Clock(T0)
    with clocked_app(engine, database_url, clock) as client:
        mine = app_auth(world.app_credential, at=clock.now)
        listed = client.get("/api/v1/app/installs", auth=mine).json()
        assert len(listed) == 2
        assert sum(i["this_install"] for i in listed) == 1
        old_id = old_phone.partition(".")[0]
        unsigned = {"Authorization": f"Bearer {world.app_credential}"}
        # Unsigned: refused; signed: the old phone's credential stops working at once.
        assert client.delete(f"/api/v1/app/installs/{old_id}", headers=unsigned).status_code == 401
        answer = client.delete(f"/api/v1/app/installs/{old_id}", auth=mine)
        assert answer.status_code == 200, answer.text
        assert answer.json() == [old_id]
        gone = app_auth(old_phone, at=clock.now)
        assert client.get("/api/v1/app/profile", auth=gone).status_code == 401
        assert client.get("/api/v1/app/profile", auth=mine).status_code == 200
        admin = staff_headers(client, "admin")
        wiped = client.delete(
            f"/api/v1/admin/people/{world.subscriber_id}/app-installs", headers=admin
        )
        assert wiped.json()["revoked"] == [world.app_credential.partition(".")[0]]
        assert client.get("/api/v1/app/profile", auth=mine).status_code == 401


def test_terminals_and_carriers_are_disabled_and_a_carrier_secret_rotated(
    engine: Engine, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    world = build_world(engine)
    db = ["--database-url", database_url]
    clock = Clock(T0)
    with clocked_app(engine, database_url, clock) as client:
        secret = register_carrier(client)
        terminal_secret = enrol_terminal(client, world.subscriber_id, "UA-REV-1")
        beat = terminal_message("UA-REV-1", terminal_secret, 1, "heartbeat", T0, battery_pct=80)
        sent = client.post(
            "/api/v1/terminals/messages", content=beat, headers={"content-type": "application/json"}
        )
        assert sent.status_code == 200, sent.text
        assert main(["admin", "disable-terminal", "UA-REV-1", *db]) == 0
        beat2 = terminal_message("UA-REV-1", terminal_secret, 2, "heartbeat", T0, battery_pct=80)
        refused = client.post(
            "/api/v1/terminals/messages",
            content=beat2,
            headers={"content-type": "application/json"},
        )
        assert refused.status_code == 401, refused.text
        assert (
            carrier_post(client, "/api/v1/carrier/sos", CALL, secret=secret, at=T0).status_code
            == 201
        )
        assert main(["admin", "rotate-carrier-secret", "skt", *db]) == 0
        fresh = capsys.readouterr().out.rsplit(": ", 1)[1].strip()
        again = {**CALL, "call_id": "call-revoke-2"}
        assert (
            carrier_post(client, "/api/v1/carrier/sos", again, secret=secret, at=T0).status_code
            == 401
        )
        assert carrier_post(
            client, "/api/v1/carrier/sos", again, secret=fresh, at=T0
        ).status_code in (200, 201)
        admin = staff_headers(client, "admin")
        off = client.put(
            "/api/v1/admin/carriers/skt/disabled", json={"disabled": True}, headers=admin
        )
        assert off.status_code == 204
        third = {**CALL, "call_id": "call-revoke-3"}
        assert (
            carrier_post(client, "/api/v1/carrier/sos", third, secret=fresh, at=T0).status_code
            == 401
        )
        assert (
            client.put(
                "/api/v1/admin/carriers/nope/disabled", json={"disabled": True}, headers=admin
            ).status_code
            == 404
        )
        terminal = "/api/v1/admin/terminals/{}/disabled"
        back = client.put(terminal.format("UA-REV-1"), json={"disabled": False}, headers=admin)
        assert back.status_code == 204
        unknown = client.put(terminal.format("UA-NONE"), json={"disabled": True}, headers=admin)
        assert unknown.status_code == 404
    seal_audit(engine)
    with engine.connect() as conn:
        actions = set(conn.execute(sa.select(audit_log.c.action)).scalars())
    assert {"terminal.disable", "carrier.secret_rotated", "carrier.disable"} <= actions
    assert "terminal.enable" in actions
    assert json.dumps(sorted(actions))
