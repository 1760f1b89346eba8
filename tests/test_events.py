"""Every event a board receives is a registered, versioned schema, and the payload really validates."""

from __future__ import annotations

import json

import pytest
from sqlalchemy.engine import Engine
from tests.apiclient import SOS_BODY, app_request, running_app, staff_headers
from tests.factories import build_world

from ansim.domain.events import EVENT_SCHEMAS, EventEnvelope, validate_event

FOUNDATION_TYPES = {
    "incident.received",
    "incident.located",
    "incident.status_changed",
    "incident.priority_changed",
    "incident.sos_repeated",
    "unit.ordered",
    "unit.status_changed",
    "unit.moved",
    "assignment.changed",
}


def test_a_whole_case_emits_only_valid_registered_events(engine: Engine, database_url: str) -> None:
    world = build_world(engine)
    with running_app(engine, database_url) as client:
        board = staff_headers(client, "dispatcher")
        officer = staff_headers(client, "officer")
        unit = world.unit_ids["태평로11"]
        with client.websocket_connect("/api/v1/stream", headers=board) as stream:
            incident_id = client.post(
                "/api/v1/app/sos", **app_request(world.app_credential, SOS_BODY, "events-0001")
            ).json()["incident_id"]
            # A second press, with its own fix (the same signed bytes again would be a replay).
            again = {"fix": {**SOS_BODY["fix"], "accuracy_m": 25}}
            client.post(
                "/api/v1/app/sos", **app_request(world.app_credential, again, "events-0002")
            )
            client.post(
                f"/api/v1/incidents/{incident_id}/priority",
                json={"priority": 0, "reason": "danger"},
                headers=board,
            )
            client.post(
                f"/api/v1/units/{unit}/position",
                json={"lat": 37.567, "lon": 126.978},
                headers=officer,
            )
            client.post(
                f"/api/v1/units/{unit}/status", json={"status": "en_route"}, headers=officer
            )
            client.post(
                f"/api/v1/units/{unit}/status", json={"status": "on_scene"}, headers=officer
            )
            client.post(
                f"/api/v1/incidents/{incident_id}/status",
                json={"status": "resolved"},
                headers=board,
            )
            seen: list[EventEnvelope] = []
            while not any(
                e.type == "incident.status_changed" and e.data["to"] == "resolved" for e in seen
            ):
                seen.append(EventEnvelope.model_validate(json.loads(stream.receive_text())))
    for envelope in seen:
        version, _schema = EVENT_SCHEMAS[envelope.type]
        assert envelope.version == version
        assert validate_event(envelope.type, envelope.data) == envelope.data
    assert {e.type for e in seen} >= FOUNDATION_TYPES
    ids = [e.id for e in seen]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


def test_an_invalid_payload_never_reaches_the_outbox() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        validate_event(
            "unit.moved", {"unit_id": "u", "lat": 95, "lon": 0, "at": "2026-01-01T00:00:00Z"}
        )
