"""How fast an incident's single uncertainty figure grows after its last fix: stored with the
estimate (a car's bound, walking pace otherwise) and carried by every payload that shows it."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from tests.apiclient import app_request, running_app, staff_headers
from tests.cartrack import car_fixes
from tests.factories import CITY_HALL, build_world
from tests.test_location_service import add, fix_at, open_incident

from ansim.domain.estimate import VEHICLE_GROWTH_MPS, WALK_GROWTH_MPS
from ansim.domain.events import validate_event
from ansim.services import incidents
from ansim.store import outbox
from ansim.store.db import make_session_factory
from ansim.store.tables import incidents as incidents_table
from ansim.store.uow import UnitOfWork


def _stored_growth(engine: Engine, incident_id: str) -> float | None:
    """What the row holds, on SQLite and PostgreSQL alike."""
    with engine.connect() as conn:
        return conn.execute(
            sa.select(incidents_table.c.growth_mps).where(incidents_table.c.id == incident_id)
        ).scalar_one()


def test_a_walker_stores_the_walking_growth_rate(engine: Engine) -> None:
    world = build_world(engine)
    uow, walker = open_incident(engine, world, fix_at(0, radius_m=40))
    assert _stored_growth(engine, walker) == pytest.approx(WALK_GROWTH_MPS)  # one fix
    for k in range(1, 6):  # 1.2 m/s east, Wi-Fi
        assert add(uow, walker, fix_at(10 * k, 0, 12 * k, radius_m=40)) == "accepted"
    assert _stored_growth(engine, walker) == pytest.approx(WALK_GROWTH_MPS)
    with uow.read() as session:
        shown = incidents.location_of(incidents.get(session, incident_id=walker))
    assert shown is not None
    assert shown["growth_mps"] == pytest.approx(WALK_GROWTH_MPS)


def test_a_car_stores_the_vehicle_growth_rate(engine: Engine) -> None:
    world = build_world(engine)
    drive = car_fixes(fix_at(0).observed_at)
    uow, car = open_incident(engine, world, drive[0])
    assert _stored_growth(engine, car) == pytest.approx(WALK_GROWTH_MPS)  # one fix: no car yet
    with uow.begin() as session:
        incident = incidents.get(session, incident_id=car, for_update=True)
        incidents.add_fixes(
            session, incident=incident, fixes=drive[1:], received_at=drive[-1].observed_at
        )
    assert _stored_growth(engine, car) == pytest.approx(VEHICLE_GROWTH_MPS)
    with uow.read() as session:
        shown = incidents.location_of(incidents.get(session, incident_id=car))
        located = [e for e in outbox.unpublished(session) if e.type == "incident.located"]
    assert shown is not None
    assert shown["growth_mps"] == pytest.approx(VEHICLE_GROWTH_MPS)
    # On the roads the stored figure is the region's (as of the last fix), its area the region's.
    assert shown["radius_m"] == pytest.approx(math.sqrt(shown["area_m2"] / math.pi), rel=1e-3)
    event = located[-1].data
    assert event["location"]["growth_mps"] == pytest.approx(VEHICLE_GROWTH_MPS)
    assert validate_event("incident.located", event) == event


def test_the_queue_incident_and_location_payloads_carry_the_growth_rate(
    engine: Engine, database_url: str
) -> None:
    world = build_world(engine)
    with running_app(engine, database_url, auto_dispatch=False) as client:
        body = {"fix": {"lat": CITY_HALL[0], "lon": CITY_HALL[1], "accuracy_m": 20}}
        incident_id = client.post(
            "/api/v1/app/sos", **app_request(world.app_credential, body, "growth-0001")
        ).json()["incident_id"]
        uow = UnitOfWork(make_session_factory(engine))
        with uow.begin() as session:
            incident = incidents.get(session, incident_id=incident_id, for_update=True)
            assert incident.located_at is not None
            drive = car_fixes(incident.located_at + timedelta(seconds=5))
            incidents.add_fixes(
                session, incident=incident, fixes=drive, received_at=drive[-1].observed_at
            )
        board = staff_headers(client, "dispatcher")
        queue = client.get("/api/v1/incidents", headers=board).json()
        (listed,) = [i for i in queue if i["id"] == incident_id]
        assert listed["location"]["growth_mps"] == pytest.approx(VEHICLE_GROWTH_MPS)
        detail = client.get(f"/api/v1/incidents/{incident_id}", headers=board).json()
        assert detail["incident"]["location"]["growth_mps"] == pytest.approx(VEHICLE_GROWTH_MPS)
        estimate = client.get(f"/api/v1/incidents/{incident_id}/location", headers=board).json()[
            "estimate"
        ]
        assert estimate["growth_mps"] == pytest.approx(VEHICLE_GROWTH_MPS)
        assert estimate["region"] is not None
        # The CCTV console's list grows the figure the same way.
        cctv = staff_headers(client, "admin")  # every district
        watched = client.get("/api/v1/cctv/incidents", headers=cctv)
        assert watched.status_code == 200, watched.text
        (seen,) = [i for i in watched.json() if i["id"] == incident_id]
        assert seen["growth_mps"] == pytest.approx(VEHICLE_GROWTH_MPS)
