"""Security review (issue 19): every request of the 112 app carries the install's signature.

A bearer credential alone is a password in a header: anyone who read it once (a proxy log, a
backup of the phone) could send SOS and read the person's profile. The PWA signs every call, so
the server takes nothing unsigned from an install.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from tests.apiclient import SOS_BODY, app_headers, app_request, running_app
from tests.factories import World, build_world

from ansim.store.tables import incidents


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
        signed = client.get(f"/api/v1/app{path}", headers=app_headers(world.app_credential))
        assert signed.status_code == 200, (path, signed.text)
