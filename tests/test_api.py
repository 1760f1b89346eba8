"""The HTTP API end to end: SOS in, event out on the board's WebSocket, roles enforced, bad input refused."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from tests.apiclient import SOS_BODY, app_auth, app_request, running_app, staff_headers
from tests.factories import World, build_world, seal_audit

from ansim.store.tables import incident_events, incidents, outbox


@pytest.fixture
def api(engine: Engine, database_url: str) -> Iterator[tuple[TestClient, World]]:
    world = build_world(engine)
    with running_app(engine, database_url) as client:
        yield client, world


def test_an_sos_reaches_the_board_stream_and_the_queue(api: tuple[TestClient, World]) -> None:
    client, world = api
    board = staff_headers(client, "dispatcher")
    with client.websocket_connect("/api/v1/stream", headers=board) as stream:
        answer = client.post(
            "/api/v1/app/sos", **app_request(world.app_credential, SOS_BODY, "press-0001")
        )
        assert answer.status_code == 201, answer.text
        incident_id = answer.json()["incident_id"]
        # Dispatch first, verify after: the order is committed, then the guardians are asked.
        assert answer.json()["status"] == "verifying"
        first = json.loads(stream.receive_text())
        assert first["type"] == "incident.received"
        assert first["incident_id"] == incident_id
        assert first["data"]["location"]["radius_m"] == pytest.approx(
            32.4, abs=0.1
        )  # 20 m at 68 % → 95 %
    queue = client.get("/api/v1/incidents", headers=board).json()
    assert [i["id"] for i in queue] == [incident_id]
    assert queue[0]["subscriber_name"] == "김하늘"
    detail = client.get(f"/api/v1/incidents/{incident_id}", headers=board).json()
    assert detail["person"]["school"] == "서울덕수초등학교"
    assert detail["guardians"][0]["relation"] == "father"
    assert [a["call_sign"] for a in detail["assignments"]] == ["태평로11"]
    assert [e["kind"] for e in detail["timeline"]][:5] == [
        "received",
        "unit_ordered",
        "status_changed",
        "status_changed",
        "verification_started",
    ]
    assert [e["data"].get("to") for e in detail["timeline"][2:4]] == ["dispatched", "verifying"]


def test_a_board_that_reconnects_catches_up_from_where_it_stopped(
    api: tuple[TestClient, World],
) -> None:
    client, world = api
    board = staff_headers(client, "dispatcher")
    client.post("/api/v1/app/sos", **app_request(world.app_credential, SOS_BODY, "press-0002"))
    with client.websocket_connect("/api/v1/stream?after=0", headers=board) as stream:
        types = [json.loads(stream.receive_text())["type"] for _ in range(5)]
    assert types[0] == "incident.received"
    assert "unit.ordered" in types


def test_a_retry_with_the_same_idempotency_key_makes_no_second_incident(
    api: tuple[TestClient, World], engine: Engine
) -> None:
    client, world = api
    signed = app_request(world.app_credential, SOS_BODY, "press-0003")
    first = client.post("/api/v1/app/sos", **signed)
    second = client.post("/api/v1/app/sos", **signed)
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json() == first.json() | {"replayed": True}
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(incidents)).scalar_one() == 1


@pytest.mark.parametrize(
    ("method", "path", "role", "status"),
    [
        ("get", "/api/v1/incidents", None, 401),
        ("get", "/api/v1/units", None, 401),
        ("get", "/api/v1/incidents", "cctv_operator", 403),
        ("post", "/api/v1/incidents/x/dispatch", "officer", 403),
        ("post", "/api/v1/incidents/x/status", "cctv_operator", 403),
        ("post", "/api/v1/app/sos", "dispatcher", 401),
    ],
)
def test_unauthenticated_and_wrong_roles_are_refused(
    api: tuple[TestClient, World], method: str, path: str, role: str | None, status: int
) -> None:
    client, _world = api
    headers = staff_headers(client, role) if role else {}
    answer = client.request(
        method, path, headers=headers, json={"unit_id": "u", "status": "closed"}
    )
    assert answer.status_code == status, answer.text


def test_a_websocket_without_a_session_is_closed(api: tuple[TestClient, World]) -> None:
    client, _world = api
    from starlette.websockets import WebSocketDisconnect

    with (
        pytest.raises(WebSocketDisconnect) as closed,
        client.websocket_connect("/api/v1/stream") as stream,
    ):
        stream.receive_text()
    assert closed.value.code == 4401


def test_cookie_sessions_need_the_csrf_header_for_changes(api: tuple[TestClient, World]) -> None:
    client, world = api
    login = client.post(
        "/api/v1/session", json={"username": "dispatcher", "password": "correct horse battery"}
    )
    csrf = login.json()["csrf_token"]
    incident_id = client.post(
        "/api/v1/app/sos", **app_request(world.app_credential, SOS_BODY)
    ).json()["incident_id"]
    body = {"priority": 0, "reason": "guardian cannot reach her"}
    refused = client.post(f"/api/v1/incidents/{incident_id}/priority", json=body)
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]
    accepted = client.post(
        f"/api/v1/incidents/{incident_id}/priority", json=body, headers={"X-CSRF-Token": csrf}
    )
    assert accepted.status_code == 200
    assert accepted.json()["incident"]["priority"] == 0
    assert client.delete("/api/v1/session", headers={"X-CSRF-Token": csrf}).status_code == 204
    assert client.get("/api/v1/incidents").status_code == 401


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"fix": {"lat": 91, "lon": 126.9, "accuracy_m": 10}}, "lat"),
        ({"fix": {"lat": 37.5, "lon": 181, "accuracy_m": 10}}, "lon"),
        ({"fix": {"lat": 37.5, "lon": 126.9, "accuracy_m": -5}}, "accuracy_m"),
        (
            {
                "fix": {
                    "lat": 37.5,
                    "lon": 126.9,
                    "accuracy_m": 5,
                    "observed_at": "2099-01-01T00:00:00Z",
                }
            },
            "future",
        ),
        (
            {
                "fix": {
                    "lat": 37.5,
                    "lon": 126.9,
                    "accuracy_m": 5,
                    "observed_at": "2026-11-28T09:00:00",
                }
            },
            "zone",
        ),
        ({"fix": {"lat": 37.5}}, "lon"),
    ],
)
def test_an_sos_with_a_bad_fix_is_kept_and_the_fix_dropped_with_a_clear_reason(
    api: tuple[TestClient, World], engine: Engine, body: dict[str, object], needle: str
) -> None:
    # Issue 14: a bad or future fix never refuses an SOS (a future one is re-timed, not dropped).
    client, world = api
    answer = client.post(
        "/api/v1/app/sos", **app_request(world.app_credential, body, "press-bad-1")
    )
    assert answer.status_code == 201, answer.text
    with engine.connect() as conn:
        flagged = conn.execute(
            sa.select(incident_events.c.data).where(incident_events.c.kind == "intake_flagged")
        ).scalar_one()
    [flag] = flagged["flags"]
    assert flag["kind"] in {"fix_dropped", "fix_time_unknown"}
    assert needle in flag["detail"] or (needle == "future" and flag["kind"] == "fix_time_unknown")


def test_an_sos_body_of_unknown_shape_gets_a_clear_422_and_stores_nothing(
    api: tuple[TestClient, World], engine: Engine
) -> None:
    client, world = api
    answer = client.post(
        "/api/v1/app/sos",
        **app_request(world.app_credential, {"fix": {"lat": 37.5}, "extra": 1}, "press-bad-1"),
    )
    assert answer.status_code == 422
    assert "extra" in answer.text
    with engine.connect() as conn:
        for table in (incidents, incident_events, outbox):
            assert conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one() == 0


def test_malformed_json_unknown_ids_and_illegal_steps_are_4xx(
    api: tuple[TestClient, World],
) -> None:
    client, world = api
    board = staff_headers(client, "dispatcher")
    broken = client.post(
        "/api/v1/app/sos",
        content=b'{"fix": {',
        headers={"content-type": "application/json"},
        auth=app_auth(world.app_credential, body=b'{"fix": {'),
    )
    assert broken.status_code == 422
    assert "JSON" in broken.text
    assert client.get("/api/v1/incidents/nope", headers=board).status_code == 404
    incident_id = client.post(
        "/api/v1/app/sos", **app_request(world.app_credential, SOS_BODY)
    ).json()["incident_id"]
    unknown_unit = client.post(
        f"/api/v1/incidents/{incident_id}/dispatch", json={"unit_id": "nope"}, headers=board
    )
    assert unknown_unit.status_code == 404
    assert "no unit" in unknown_unit.json()["detail"]
    illegal = client.post(
        f"/api/v1/incidents/{incident_id}/status", json={"status": "closed"}, headers=board
    )
    assert illegal.status_code == 409
    assert "cannot become closed" in illegal.json()["detail"]
    busy = client.post(
        f"/api/v1/incidents/{incident_id}/dispatch",
        json={"unit_id": world.unit_ids["태평로11"]},
        headers=board,
    )
    assert busy.status_code == 409


def test_the_officer_runs_the_assignment_from_the_terminal(api: tuple[TestClient, World]) -> None:
    client, world = api
    officer = staff_headers(client, "officer")
    unit_id = world.unit_ids["태평로11"]
    incident_id = client.post(
        "/api/v1/app/sos", **app_request(world.app_credential, SOS_BODY)
    ).json()["incident_id"]
    assert [i["id"] for i in client.get("/api/v1/incidents", headers=officer).json()] == [
        incident_id
    ]
    for status in ("en_route", "on_scene"):
        assert (
            client.post(
                f"/api/v1/units/{unit_id}/status", json={"status": status}, headers=officer
            ).status_code
            == 200
        )
    other = world.unit_ids["종로31"]
    assert (
        client.post(
            f"/api/v1/units/{other}/status", json={"status": "busy"}, headers=officer
        ).status_code
        == 403
    )
    moved = client.post(
        f"/api/v1/units/{unit_id}/position", json={"lat": 37.5666, "lon": 126.9781}, headers=officer
    )
    assert moved.status_code == 200
    detail = client.get(f"/api/v1/incidents/{incident_id}", headers=officer).json()
    assert detail["incident"]["status"] == "on_scene"
    assert detail["assignments"][0]["arrived_at"] is not None


def test_opening_the_live_stream_is_an_audited_read(
    api: tuple[TestClient, World], engine: Engine
) -> None:
    from ansim.store.tables import audit_log

    client, _world = api
    with client.websocket_connect("/api/v1/stream", headers=staff_headers(client, "dispatcher")):
        pass
    import time

    deadline = time.monotonic() + 5  # the server records it right after accepting the connection
    while True:
        seal_audit(engine)
        with engine.connect() as conn:
            rows = [
                tuple(r) for r in conn.execute(sa.select(audit_log.c.actor, audit_log.c.action))
            ]
        if ("dispatcher", "stream.open") in rows or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert ("dispatcher", "stream.open") in rows
