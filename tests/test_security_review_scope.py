"""Security review (issue 19): an officer sees an incident only while their unit holds an open order.

An order that timed out (or was declined) no longer opens the person, the guardians, the location
or the live events of that incident; the one rule lives in services.officer_scope.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from tests.apiclient import SOS_BODY, app_request, running_app, staff_headers
from tests.factories import World, build_world
from tests.verifykit import platform_of

from ansim.bus.scheduler import DeadlineScheduler
from ansim.services import dispatch, officer_scope
from ansim.services.timers import deadline_handlers
from ansim.store.db import make_session_factory
from ansim.store.uow import UnitOfWork


@pytest.fixture
def api(engine: Engine, database_url: str) -> Iterator[tuple[TestClient, World]]:
    world = build_world(engine)
    with running_app(engine, database_url) as client:
        yield client, world


def _time_out_orders(engine: Engine) -> int:
    uow = UnitOfWork(make_session_factory(engine))
    later = datetime.now(UTC) + timedelta(seconds=31)
    scheduler = DeadlineScheduler(uow, deadline_handlers(platform_of(uow)), clock=lambda: later)
    return scheduler.fire_due(later)


def test_finding_an_officer_whose_order_timed_out_no_longer_sees_the_incident(
    api: tuple[TestClient, World], engine: Engine
) -> None:
    client, world = api
    officer = staff_headers(client, "officer")  # of 태평로11, the unit the SOS is ordered to
    answer = client.post(
        "/api/v1/app/sos", **app_request(world.app_credential, SOS_BODY, "scope-0001")
    )
    assert answer.status_code == 201, answer.text
    incident_id = answer.json()["incident_id"]
    reads = [
        f"/api/v1/incidents/{incident_id}",
        f"/api/v1/incidents/{incident_id}/location",
        f"/api/v1/incidents/{incident_id}/route",
    ]
    for path in reads:
        assert client.get(path, headers=officer).status_code == 200, path
    assert [i["id"] for i in client.get("/api/v1/incidents", headers=officer).json()] == [
        incident_id
    ]

    assert _time_out_orders(engine) >= 1
    uow = UnitOfWork(make_session_factory(engine))
    with uow.read() as session:
        states = {
            a.unit_id: a.state.value
            for a in dispatch.incident_assignments(session, incident_id=incident_id)
        }
        assert states[world.unit_ids["태평로11"]] == "timed_out"
        # The live stream decides with the same rule.
        assert not officer_scope.unit_has_open_order(
            session, unit_id=world.unit_ids["태평로11"], incident_id=incident_id
        )
        assert officer_scope.unit_has_open_order(
            session, unit_id=world.unit_ids["남대문21"], incident_id=incident_id
        )
    for path in reads:
        refused = client.get(path, headers=officer)
        assert refused.status_code == 403, path
        assert "open order" in refused.json()["detail"]
    assert client.get("/api/v1/incidents", headers=officer).json() == []
    # The board still sees it.
    board = staff_headers(client, "dispatcher")
    assert client.get(f"/api/v1/incidents/{incident_id}", headers=board).status_code == 200
