"""Health, readiness, metrics, roles and JSON logs of a running app."""

from __future__ import annotations

import json
import logging

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from tests.apiclient import SOS_BODY, app_request, running_app
from tests.factories import build_world

from ansim.api.app import create_app
from ansim.bus.runtime import ALL_ROLES, ServeRole, parse_roles
from ansim.cli.logs import JsonFormatter
from ansim.domain.deliveries import DeliveryStatus
from ansim.settings import Settings
from ansim.store.tables import deliveries


def test_health_readiness_and_metrics_after_an_sos(engine: Engine, database_url: str) -> None:
    world = build_world(engine)
    with running_app(engine, database_url) as client:
        answer = client.post(
            "/api/v1/app/sos", **app_request(world.app_credential, SOS_BODY, "ops-0001")
        )
        assert answer.status_code == 201
        health = client.get("/healthz")
        assert health.status_code == 200
        assert health.json()["roles"] == ["api", "notifier", "relay", "scheduler"]
        ready = client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json() == {"status": "ready", "checks": {"database": "ok"}}
        metrics = client.get("/metrics")
    assert metrics.status_code == 200
    text = metrics.text
    assert 'ansim_intake_requests_total{channel="app",status="2xx"} 1.0' in text
    assert 'ansim_intake_seconds_count{channel="app"} 1.0' in text
    assert "ansim_open_incidents 1.0" in text
    assert "ansim_deadlines_overdue 0.0" in text
    assert "ansim_store_up 1.0" in text
    assert "ansim_outbox_backlog " in text
    assert "ansim_open_incidents_unordered 0.0" in text  # ordered within the SOS's transaction
    with engine.connect() as connection:
        stored = connection.execute(sa.select(sa.func.count()).select_from(deliveries)).scalar_one()
    assert stored > 0, "the SOS queued the guardians' messages"
    # The notifier moves deliveries between statuses while we read; their number does not change.
    by_status = {
        status.value: float(
            text.split(f'ansim_deliveries{{status="{status.value}"}} ')[1].split()[0]
        )
        for status in DeliveryStatus
    }
    assert sum(by_status.values()) == stored


def test_an_sos_without_a_unit_past_the_policys_order_time_shows_in_the_metrics(
    engine: Engine, database_url: str
) -> None:
    world = build_world(engine)
    # No fix, so no unit can be ranked: the incident waits ("no location yet") with nobody ordered.
    with running_app(engine, database_url, order_within_s=0.001) as client:
        answer = client.post(
            "/api/v1/app/sos", **app_request(world.app_credential, {}, "ops-nofix")
        )
        assert answer.status_code == 201, answer.text
        text = client.get("/metrics").text
    assert "ansim_open_incidents 1.0" in text
    assert "ansim_open_incidents_unordered 1.0" in text


def test_readiness_fails_when_the_broker_is_unreachable(engine: Engine, database_url: str) -> None:
    # Nothing listens on port 9: the worker starts, keeps retrying, and says it is not ready.
    with running_app(engine, database_url, nats_url="nats://127.0.0.1:9") as client:
        ready = client.get("/readyz")
        assert client.get("/healthz").status_code == 200
    assert ready.status_code == 503
    assert ready.headers["Retry-After"] == "2"
    assert ready.json()["checks"] == {"database": "ok", "broker": "unreachable"}


def test_a_scheduler_process_serves_only_operations(engine: Engine, database_url: str) -> None:
    from fastapi.testclient import TestClient

    app = create_app(
        Settings(database_url=database_url), engine=engine, roles=frozenset({ServeRole.SCHEDULER})
    )
    with TestClient(app) as client:
        assert client.get("/healthz").json()["roles"] == ["scheduler"]
        assert client.get("/readyz").status_code == 200
        assert client.post("/api/v1/app/sos", json=SOS_BODY).status_code == 404


@pytest.mark.parametrize(
    ("text", "roles"),
    [
        ("all", ALL_ROLES),
        ("api", {ServeRole.API}),
        ("scheduler, relay", {ServeRole.SCHEDULER, ServeRole.RELAY}),
    ],
)
def test_roles_parse(text: str, roles: set[ServeRole]) -> None:
    assert parse_roles(text) == roles


@pytest.mark.parametrize("text", ["", "web", "api,web"])
def test_unknown_roles_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="role"):
        parse_roles(text)


def test_json_logs_carry_the_incident_id() -> None:
    record = logging.makeLogRecord(
        {
            "name": "ansim.bus.relay",
            "levelno": logging.INFO,
            "levelname": "INFO",
            "msg": "event published",
            "incident_id": "6c1d-incident",
            "event_id": 7,
        }
    )
    line = json.loads(JsonFormatter(role="api").format(record))
    assert line["message"] == "event published"
    assert line["incident_id"] == "6c1d-incident"
    assert line["event_id"] == 7
    assert line["role"] == "api"
    assert line["level"] == "info"
