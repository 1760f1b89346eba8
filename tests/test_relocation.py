"""Carrier re-location (HELD): against a local location server that checks what we send."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import defusedxml.ElementTree as ElementTree
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from tests.apiclient import staff_headers
from tests.factories import T0, World, build_world
from tests.heldserver import HeldServer, held_server
from tests.intakekit import Clock, carrier_post, clocked_app

from ansim.domain.fixes import FixMethod
from ansim.intake.held import (
    HeldFailed,
    HeldRefused,
    HttpLocator,
    fixes_of_answer,
    request_body,
)
from ansim.security import audit
from ansim.services import relocation
from ansim.store import deadlines
from ansim.store.tables import carriers, outbox

VECTORS = Path(__file__).parent / "fixtures" / "conformance" / "pidf" / "held"
NUMBER = "+821012345678"
USER, PASSWORD = "ansim-psap", "lis-secret-1"


def test_the_request_names_the_caller_by_tel_uri_and_asks_for_geodetic_and_civic() -> None:
    root = ElementTree.fromstring(request_body(NUMBER))
    assert root.tag == "{urn:ietf:params:xml:ns:geopriv:held}locationRequest"
    assert root.get("responseTime") == "8"
    kinds = root.find("{urn:ietf:params:xml:ns:geopriv:held}locationType")
    assert kinds is not None
    assert kinds.text == "geodetic civic"
    assert kinds.get("exact") == "false"
    uri = root.find(
        "{urn:ietf:params:xml:ns:geopriv:held:id}device/{urn:ietf:params:xml:ns:geopriv:held:id}uri"
    )
    assert uri is not None
    assert uri.text == f"tel:{NUMBER}"


@pytest.mark.parametrize(
    ("name", "method", "radius"),
    [
        ("gridgears__circleResponse.xml", FixMethod.MANUAL, 30.0),
        ("gridgears__pointResponse.xml", FixMethod.MANUAL, None),
        ("gridgears__realResponse_circle_civic_aml.xml", FixMethod.GNSS, 19.0),
        ("tamu__HTTP_HELD_Location_response.xml", FixMethod.UNKNOWN, None),
    ],
)
def test_conformance_answers_become_fixes(
    name: str, method: FixMethod, radius: float | None
) -> None:
    body = (VECTORS / name).read_bytes()
    fixes = fixes_of_answer(body, number=NUMBER, received_at=T0, source="held:skt")
    assert fixes
    assert fixes[0].method is method
    assert fixes[0].source == "held:skt"
    if radius is not None:  # the answer's circle, at 95 % (the PIDF-LO default confidence)
        assert fixes[0].radius_m == pytest.approx(radius)


def test_a_civic_answer_abroad_gives_no_fix_and_a_malformed_one_is_refused() -> None:
    with pytest.raises(HeldFailed, match="usable location"):
        fixes_of_answer(
            (VECTORS / "gridgears__civic.xml").read_bytes(),
            number=NUMBER,
            received_at=T0,
            source="held:skt",
        )
    with pytest.raises(HeldRefused, match="malformed"):
        fixes_of_answer(
            (VECTORS / "tamu__HTTP_200_OK_LOCATION_body.xml").read_bytes(),
            number=NUMBER,
            received_at=T0,
            source="held:skt",
        )


@pytest.fixture
def lis() -> Iterator[HeldServer]:
    with held_server(username=USER, password=PASSWORD, stamp=T0) as server:
        yield server


@pytest.fixture
def gateway(
    engine: Engine, database_url: str, lis: HeldServer
) -> Iterator[tuple[TestClient, World, str, Clock]]:
    world = build_world(engine)
    clock = Clock(T0)
    with clocked_app(engine, database_url, clock) as client:
        admin = staff_headers(client, "admin")
        answer = client.post(
            "/api/v1/admin/carriers",
            json={
                "carrier_id": "skt",
                "name": "SK Telecom",
                "location_server": {"url": lis.url, "username": USER, "password": PASSWORD},
            },
            headers=admin,
        )
        assert answer.status_code == 201, answer.text
        yield client, world, answer.json()["secret"], clock


def _one_touch_sos(client: TestClient, secret: str) -> str:
    call = {
        "call_id": "call-held-1",
        "caller_number": "010-1234-5678",
        "called_at": T0.isoformat(),
        "network_location": {
            "lat": 37.5660,
            "lon": 126.9790,
            "radius_m": 800,
            "confidence": 0.68,
            "cell_id": "450-05-1234-5678",
        },
    }
    answer = carrier_post(client, "/api/v1/carrier/sos", call, secret=secret, at=T0)
    assert answer.status_code == 201, answer.text
    incident_id: str = answer.json()["incident_id"]
    return incident_id


def _pending(engine: Engine, incident_id: str) -> list[deadlines.Deadline]:
    with engine.begin() as conn:
        from sqlalchemy.orm import Session

        with Session(bind=conn) as session:
            return deadlines.pending(session, kind=relocation.RELOCATE_KIND, subject_id=incident_id)


def test_a_one_touch_caller_is_relocated_by_policy_and_by_the_dispatcher_until_cancelled(
    gateway: tuple[TestClient, World, str, Clock], engine: Engine, lis: HeldServer
) -> None:
    client, _world, secret, clock = gateway
    board = staff_headers(client, "dispatcher")
    incident_id = _one_touch_sos(client, secret)
    before = client.get(f"/api/v1/incidents/{incident_id}", headers=board).json()
    assert before["relocation"] is None
    # The SOS started the policy: a re-location is due at once.
    [due] = _pending(engine, incident_id)
    assert due.due_at == T0
    scheduler = client.app.state.context.scheduler  # type: ignore[attr-defined]

    clock.now = lis.stamp = T0 + timedelta(seconds=2)
    assert scheduler.fire_due(clock.now) == 1
    relocation.wait_for_requests()
    assert lis.numbers == [NUMBER]
    assert lis.problems == []
    after = client.get(f"/api/v1/incidents/{incident_id}", headers=board).json()
    assert after["relocation"]["outcome"] == "located"
    assert after["relocation"]["fixes"] == 1
    # The carrier's 30 m fix pulled the 1.3 km cell estimate in.
    assert (
        after["incident"]["location"]["radius_m"] < before["incident"]["location"]["radius_m"] / 4
    )
    [again] = _pending(engine, incident_id)
    assert again.due_at == clock.now + timedelta(seconds=30)

    # The dispatcher asks now; the policy's next request moves to 30 s after it.
    clock.now = lis.stamp = T0 + timedelta(seconds=12)
    asked = client.post(f"/api/v1/incidents/{incident_id}/relocate", headers=board)
    assert asked.status_code == 200, asked.text
    assert asked.json()["outcome"] == "located"
    [moved] = _pending(engine, incident_id)
    assert moved.due_at == clock.now + timedelta(seconds=30)
    assert len(lis.requests) == 2
    assert lis.problems == []
    # audit.search, not the audit_log table: on PostgreSQL an entry is chained just after its
    # commit (ansim.security.audit.seal) and search shows it before that too. Newest first.
    with Session(engine) as session:
        audited = audit.search(session, action="location.relocate", incident_id=incident_id)[::-1]
    assert [a.actor for a in audited] == ["system", "dispatcher"]
    assert all(a.detail["outcome"] == "located" for a in audited)
    with engine.connect() as conn:
        told = (
            conn.execute(
                sa.select(outbox.c.data).where(
                    outbox.c.type == "incident.relocated", outbox.c.incident_id == incident_id
                )
            )
            .scalars()
            .all()
        )
    assert [e["outcome"] for e in told] == ["located", "located"]

    # Cancelled: the policy stops, and the dispatcher is told no.
    cancelled = client.post(
        f"/api/v1/incidents/{incident_id}/status",
        json={"status": "cancelled", "reason": "caller safe"},
        headers=board,
    )
    assert cancelled.status_code == 200, cancelled.text
    clock.now = T0 + timedelta(seconds=45)
    scheduler.fire_due(clock.now)
    relocation.wait_for_requests()
    assert len(lis.requests) == 2
    assert _pending(engine, incident_id) == []
    # Danger confirmed after all: the policy resumes at once.
    confirmed = client.post(
        f"/api/v1/incidents/{incident_id}/status",
        json={"status": "confirmed", "reason": "guardian says danger"},
        headers=board,
    )
    assert confirmed.status_code == 200, confirmed.text
    [resumed] = _pending(engine, incident_id)
    assert resumed.due_at == clock.now
    # Resolved and closed: the next firing asks nobody, and the dispatcher is told no.
    for status in ("resolved", "closed"):
        moved_on = client.post(
            f"/api/v1/incidents/{incident_id}/status",
            json={"status": status, "reason": "done"},
            headers=board,
        )
        assert moved_on.status_code == 200, moved_on.text
    scheduler.fire_due(clock.now + timedelta(seconds=1))
    relocation.wait_for_requests()
    assert len(lis.requests) == 2
    assert _pending(engine, incident_id) == []
    refused = client.post(f"/api/v1/incidents/{incident_id}/relocate", headers=board)
    assert refused.status_code == 409
    assert "closed" in refused.text


@pytest.mark.parametrize(
    ("mode", "outcome", "words"),
    [
        ("error", "failed", "locationUnknown"),
        ("http500", "failed", "HTTP 500"),
        ("other_number", "refused", "+821099990000"),
        ("malformed", "refused", "malformed"),
        ("huge", "refused", "limit"),
    ],
)
def test_bad_answers_are_recorded_and_the_incident_goes_on(
    gateway: tuple[TestClient, World, str, Clock],
    lis: HeldServer,
    mode: str,
    outcome: str,
    words: str,
) -> None:
    client, _world, secret, clock = gateway
    board = staff_headers(client, "dispatcher")
    incident_id = _one_touch_sos(client, secret)
    before = client.get(f"/api/v1/incidents/{incident_id}", headers=board).json()
    lis.mode = mode
    clock.now = lis.stamp = T0 + timedelta(seconds=5)
    asked = client.post(f"/api/v1/incidents/{incident_id}/relocate", headers=board)
    assert asked.status_code == 200, asked.text
    assert asked.json()["outcome"] == outcome
    assert words in asked.json()["detail"]
    after = client.get(f"/api/v1/incidents/{incident_id}", headers=board).json()
    assert after["relocation"]["outcome"] == outcome
    assert after["incident"]["location"] == before["incident"]["location"]
    assert after["incident"]["status"] == before["incident"]["status"]


def test_a_civic_answer_becomes_a_fix_over_its_dong(
    gateway: tuple[TestClient, World, str, Clock], lis: HeldServer
) -> None:
    client, _world, secret, clock = gateway
    board = staff_headers(client, "dispatcher")
    incident_id = _one_touch_sos(client, secret)
    lis.mode = "civic"
    clock.now = lis.stamp = T0 + timedelta(seconds=5)
    asked = client.post(f"/api/v1/incidents/{incident_id}/relocate", headers=board)
    assert asked.json()["outcome"] == "located", asked.text
    fixes = client.get(f"/api/v1/incidents/{incident_id}/location", headers=board).json()["fixes"]
    held = [f for f in fixes if f["source"] == "held:skt"]
    assert len(held) == 1
    # 태평로1가's centre, with the area's reach as its uncertainty.
    assert 37.560 < held[0]["lat"] < 37.572
    assert 126.970 < held[0]["lon"] < 126.984
    assert 100 < held[0]["radius_m"] < 1500
    # The floor of the civic answer (FLR B1) is carried to the estimate.
    found = client.get(f"/api/v1/incidents/{incident_id}/location", headers=board).json()
    assert found["estimate"]["floor"] == -1


def test_a_slow_or_absent_server_fails_without_stopping_anything(
    gateway: tuple[TestClient, World, str, Clock], lis: HeldServer
) -> None:
    client, _world, secret, clock = gateway
    incident_id = _one_touch_sos(client, secret)
    platform = client.app.state.context.platform  # type: ignore[attr-defined]
    lis.mode = "slow"
    clock.now = lis.stamp = T0 + timedelta(seconds=5)
    slow = relocation.do_relocate_caller(
        platform, incident_id=incident_id, actor="dispatcher", locator=HttpLocator(timeout_s=0.5)
    )
    assert slow.outcome == "failed"
    assert "did not answer" in slow.detail
    lis.url = "http://127.0.0.1:9/held"  # nothing listens there
    with platform.uow.begin() as session:
        relocation.set_location_server(
            session,
            carrier_id="skt",
            server=relocation.LocationServer(lis.url, USER, PASSWORD),
        )
    down = relocation.do_relocate_caller(platform, incident_id=incident_id, actor="dispatcher")
    assert down.outcome == "failed"
    assert "unreachable" in down.detail


def test_the_location_server_password_is_encrypted_at_rest(
    gateway: tuple[TestClient, World, str, Clock], engine: Engine
) -> None:
    with engine.connect() as conn:
        raw = conn.execute(
            sa.text("SELECT lis_password, lis_url FROM carriers WHERE id = 'skt'")
        ).one()
        typed = conn.execute(sa.select(carriers.c.lis_password)).scalar_one()
    assert raw.lis_password != PASSWORD
    assert PASSWORD not in raw.lis_password
    assert typed == PASSWORD
    assert raw.lis_url.startswith("http://127.0.0.1:")


def test_only_admins_set_a_location_server(
    gateway: tuple[TestClient, World, str, Clock], lis: HeldServer
) -> None:
    client, *_ = gateway
    body = {"url": lis.url, "username": USER, "password": "new-secret"}
    path = "/api/v1/admin/carriers/skt/location-server"
    assert (
        client.put(path, json=body, headers=staff_headers(client, "dispatcher")).status_code == 403
    )
    assert client.put(path, json=body, headers=staff_headers(client, "admin")).status_code == 204
    bad = client.put(path, json={"url": "ftp://x"}, headers=staff_headers(client, "admin"))
    assert bad.status_code == 422
    missing = client.put(
        "/api/v1/admin/carriers/nobody/location-server",
        json=body,
        headers=staff_headers(client, "admin"),
    )
    assert missing.status_code == 404
