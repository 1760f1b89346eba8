"""Security review (issue 19, follow-up): an app signature binds the method and the path.

Signing only the timestamp and the body left every request with the same body interchangeable:
a captured signed GET of the installs list (empty body) could be sent again within the window as
`DELETE /api/v1/app/installs/{id}` and revoke the person's other phone. The signature now covers
`METHOD`, the path with its query string as sent, the timestamp and the body (scheme v2).
"""

from __future__ import annotations

import json
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from tests.apiclient import SOS_BODY, app_auth, app_headers, app_request
from tests.factories import T0, build_world
from tests.intakekit import Clock, clocked_app

from ansim.api.app_signing import signed_target
from ansim.security.signing import app_key, timestamped_signature
from ansim.services import people
from ansim.store.db import make_session_factory
from ansim.store.tables import incident_events
from ansim.store.uow import UnitOfWork

INSTALLS = "/api/v1/app/installs"
SOS = "/api/v1/app/sos"


def _old_phone(engine: Engine, subscriber_id: str) -> str:
    with UnitOfWork(make_session_factory(engine)).begin() as session:
        return people.issue_app_credential(session, subscriber_id=subscriber_id, at=T0)


def test_finding_a_signed_app_request_cannot_be_replayed_on_another_route(
    engine: Engine, database_url: str
) -> None:
    world = build_world(engine)
    old_phone = _old_phone(engine, world.subscriber_id)
    old_id = old_phone.partition(".")[0]
    clock = Clock(T0)
    with clocked_app(engine, database_url, clock) as client:
        captured = app_headers(world.app_credential, method="GET", path=INSTALLS, at=clock.now)
        assert client.get(INSTALLS, headers=captured).status_code == 200
        # The same headers, within the window, on another method and path: refused, nothing revoked.
        replayed = client.delete(f"{INSTALLS}/{old_id}", headers=captured)
        assert replayed.status_code == 401, replayed.text
        assert "signature" in replayed.json()["detail"].lower()
        # Nor on the same path with another query string.
        assert client.get(f"{INSTALLS}?all=1", headers=captured).status_code == 401
        still = app_auth(old_phone, at=clock.now)
        assert client.get("/api/v1/app/profile", auth=still).status_code == 200
        # A signed SOS (headers and body) sent to another route is no signed request there either.
        raw = json.dumps(SOS_BODY).encode()
        sos = {
            **app_headers(world.app_credential, method="POST", path=SOS, body=raw, at=clock.now),
            "Content-Type": "application/json",
            "Idempotency-Key": "replay-sos-01",
        }
        opened = client.post(SOS, content=raw, headers=sos)
        assert opened.status_code == 201, opened.text
        fixes = f"/api/v1/app/incidents/{opened.json()['incident_id']}/fixes"
        moved = client.post(fixes, content=raw, headers=sos)
        assert moved.status_code == 401, moved.text
        # The helper most tests use signs the route it is really sent to.
        signed = client.post(SOS, **app_request(world.app_credential, SOS_BODY, "replay-sos-01"))
        assert signed.status_code == 200, signed.text


def test_an_old_scheme_signature_is_refused_with_its_reason(
    engine: Engine, database_url: str
) -> None:
    world = build_world(engine)
    clock = Clock(T0)
    with clocked_app(engine, database_url, clock) as client:
        timestamp = str(int(clock.now.timestamp()))
        secret = world.app_credential.partition(".")[2]
        v1 = timestamped_signature(app_key(secret), timestamp=timestamp, body=b"")
        old = {
            "Authorization": f"Bearer {world.app_credential}",
            "X-Ansim-Timestamp": timestamp,
            "X-Ansim-Signature": v1,
        }
        refused = client.get("/api/v1/app/profile", headers=old)
        assert refused.status_code == 401, refused.text
        assert "v2" in refused.json()["detail"]
        prefixed = {**old, "X-Ansim-Signature": f"v1={v1}"}
        assert client.get("/api/v1/app/profile", headers=prefixed).status_code == 401


def test_the_path_checked_is_the_one_the_client_sent_behind_a_proxy() -> None:
    """The raw request line (not the decoded path), with a proxy's prefix, and the raw query."""
    sent = {"path": "/api/v1/app/x y", "raw_path": b"/api/v1/app/x%20y", "query_string": b"a=1"}
    assert signed_target(sent) == "/api/v1/app/x%20y?a=1"
    # uvicorn --root-path /ansim puts the prefix in raw_path itself; other servers may not.
    assert signed_target(
        {**sent, "root_path": "/ansim", "raw_path": b"/ansim/api/v1/app/x%20y"}
    ) == ("/ansim/api/v1/app/x%20y?a=1")
    assert signed_target({**sent, "root_path": "/ansim"}) == "/ansim/api/v1/app/x%20y?a=1"
    assert signed_target({"path": "/api/v1/app/profile", "query_string": b""}) == (
        "/api/v1/app/profile"
    )


def _flags(engine: Engine, incident_id: str) -> list[str]:
    with engine.connect() as connection:
        return [
            flag["kind"]
            for data in connection.execute(
                sa.select(incident_events.c.data).where(
                    incident_events.c.incident_id == incident_id,
                    incident_events.c.kind == "intake_flagged",
                )
            ).scalars()
            for flag in data["flags"]
        ]


def test_an_sos_from_an_app_page_older_than_the_upgrade_is_taken_and_flagged(
    engine: Engine, database_url: str
) -> None:
    """A page loaded before the v2 upgrade still signs v1: its SOS is never refused for that
    (flagged for the dispatcher); every other request of it is (the reads above)."""
    world = build_world(engine)
    clock = Clock(T0)
    with clocked_app(engine, database_url, clock) as client:
        timestamp = str(int(clock.now.timestamp()))
        secret = world.app_credential.partition(".")[2]
        raw = json.dumps(SOS_BODY).encode()
        old = {
            "Authorization": f"Bearer {world.app_credential}",
            "X-Ansim-Timestamp": timestamp,
            "X-Ansim-Signature": timestamped_signature(
                app_key(secret), timestamp=timestamp, body=raw
            ),
            "Content-Type": "application/json",
            "Idempotency-Key": "old-page-sos-1",
        }
        taken = client.post(SOS, content=raw, headers=old)
        assert taken.status_code == 201, taken.text
        assert "signature_old_scheme" in _flags(engine, taken.json()["incident_id"])
        # A v1 signature over other bytes is still no signature.
        forged = client.post(SOS, content=b'{"fix": null}', headers=old)
        assert forged.status_code == 401, forged.text
        # Nor does a v1-signed read body pass as an SOS: only an SOS body signed by the install.
        fixes = f"/api/v1/app/incidents/{taken.json()['incident_id']}/fixes"
        assert client.post(fixes, content=raw, headers=old).status_code == 401


def test_a_captured_sos_replayed_under_a_new_key_is_the_same_press(
    engine: Engine, database_url: str
) -> None:
    """The Idempotency-Key header is not signed: the signature is the press's identity too."""
    world = build_world(engine)
    clock = Clock(T0)
    with clocked_app(engine, database_url, clock) as client:
        raw = json.dumps(SOS_BODY).encode()
        signed = app_headers(world.app_credential, method="POST", path=SOS, body=raw, at=clock.now)
        first = client.post(
            SOS,
            content=raw,
            headers={**signed, "Content-Type": "application/json", "Idempotency-Key": "k-first-1"},
        )
        assert first.status_code == 201, first.text
        for key in ("k-other-22", None):
            headers = {**signed, "Content-Type": "application/json"}
            if key:
                headers["Idempotency-Key"] = key
            again = client.post(SOS, content=raw, headers=headers)
            assert again.status_code == 200, again.text
            assert again.json()["replayed"] is True
            assert again.json()["incident_id"] == first.json()["incident_id"]
        # The new key now names that press too: a retry under it, freshly signed, finds it.
        clock.now += timedelta(seconds=3)
        retry = client.post(SOS, **app_request(world.app_credential, SOS_BODY, "k-other-22"))
        assert retry.status_code == 200, retry.text
        assert retry.json()["replayed"] is True
        assert retry.json()["incident_id"] == first.json()["incident_id"]
