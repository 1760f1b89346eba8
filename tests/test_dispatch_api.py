"""The dispatch API: recommendations with ETAs and ack countdown, routes, code 0, pre-emption, bad input."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from tests.apiclient import SOS_BODY, app_request, running_app, staff_headers
from tests.factories import World, build_world


@pytest.fixture
def api(engine: Engine, database_url: str) -> Iterator[tuple[TestClient, World]]:
    world = build_world(engine)
    with running_app(engine, database_url) as client:
        yield client, world


def _sos(client: TestClient, world: World, key: str) -> str:
    answer = client.post("/api/v1/app/sos", **app_request(world.app_credential, SOS_BODY, key))
    assert answer.status_code == 201, answer.text
    return str(answer.json()["incident_id"])


def test_the_board_gets_etas_routes_countdown_and_code_0_converges(
    api: tuple[TestClient, World],
) -> None:
    client, world = api
    board = staff_headers(client, "dispatcher")
    incident_id = _sos(client, world, "plan-0001")
    plan = client.get(f"/api/v1/incidents/{incident_id}/dispatch", headers=board).json()
    assert plan["ranking"] == "road"
    assert plan["rule"] == {"auto_dispatch": True, "units": 1, "ack_timeout_s": 30.0}
    (order,) = plan["assignments"]
    assert order["call_sign"] == "태평로11"
    assert 0 < order["ack_remaining_s"] <= 30
    etas = [r["eta_s"] for r in plan["recommended"]]
    assert [r["call_sign"] for r in plan["recommended"]] == ["남대문21", "종로31"]
    assert etas == sorted(etas)
    assert plan["jurisdiction"]["district_ko"] == "중구"
    assert plan["jurisdiction"]["station_name"] == "태평로파출소"  # the only station in this world
    route = client.get(f"/api/v1/assignments/{order['id']}/route", headers=board).json()
    assert route["on_roads"]
    assert route["seconds"] > 0
    assert len(route["polyline"]) >= 3
    preview = client.get(
        f"/api/v1/incidents/{incident_id}/route",
        params={"unit_id": world.unit_ids["종로31"]},
        headers=board,
    ).json()
    assert preview["assignment_id"] is None
    assert preview["metres"] > 1000

    escalated = client.post(
        f"/api/v1/incidents/{incident_id}/priority",
        json={"priority": 0, "reason": "kidnapping suspected"},
        headers=board,
    )
    assert escalated.status_code == 200, escalated.text
    states = [a["state"] for a in escalated.json()["assignments"]]
    assert states == ["ordered", "ordered", "ordered"]  # 1 + 2 extra units by default


def test_the_officer_acknowledges_and_declines_only_their_own_orders(
    api: tuple[TestClient, World],
) -> None:
    client, world = api
    officer = staff_headers(client, "officer")
    incident_id = _sos(client, world, "ack-0001")
    (order,) = client.get(
        f"/api/v1/units/{world.unit_ids['태평로11']}/orders", headers=officer
    ).json()
    assert order["person"]["name"] == "김하늘"
    assert order["incident"]["id"] == incident_id
    other = client.get(f"/api/v1/units/{world.unit_ids['종로31']}/orders", headers=officer)
    assert other.status_code == 403
    declined = client.post(
        f"/api/v1/assignments/{order['assignment']['id']}/decline", headers=officer
    ).json()
    assert declined["declined"]["state"] == "declined"
    assert declined["next"]["call_sign"] == "남대문21"
    again = client.post(
        f"/api/v1/assignments/{order['assignment']['id']}/acknowledge", headers=officer
    )
    assert again.status_code == 409
    history = client.get(
        f"/api/v1/units/{world.unit_ids['태평로11']}/history", headers=officer
    ).json()
    assert [h["status"] for h in history] == ["available", "ordered"]


def test_bad_dispatch_input_is_refused_with_a_reason(api: tuple[TestClient, World]) -> None:
    client, world = api
    board = staff_headers(client, "dispatcher")
    officer = staff_headers(client, "officer")
    unit = world.unit_ids["태평로11"]
    far = client.post(
        f"/api/v1/units/{unit}/position", json={"lat": 35.1796, "lon": 129.0756}, headers=officer
    )
    assert far.status_code == 422
    assert "from any road" in far.json()["detail"]
    unknown = client.post(
        "/api/v1/units/nope/position", json={"lat": 37.5665, "lon": 126.978}, headers=board
    )
    assert unknown.status_code == 404
    assert client.get("/api/v1/units/nope/history", headers=board).status_code == 404
    assert client.post("/api/v1/assignments/nope/acknowledge", headers=board).status_code == 404
    incident_id = _sos(client, world, "bad-0001")
    unconfirmed = client.post(
        f"/api/v1/incidents/{incident_id}/preempt",
        json={"unit_id": unit, "confirm": False},
        headers=board,
    )
    assert unconfirmed.status_code == 422
    assert "confirmation" in unconfirmed.json()["detail"]
    same = client.post(
        f"/api/v1/incidents/{incident_id}/preempt",
        json={"unit_id": unit, "confirm": True},
        headers=board,
    )
    assert same.status_code == 409
    assert (
        client.get(f"/api/v1/incidents/{incident_id}/dispatch", headers=officer).status_code == 403
    )
    assert client.get("/mdt").status_code == 200
