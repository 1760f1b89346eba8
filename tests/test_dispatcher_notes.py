"""Dispatcher notes to the units: a command with its timeline entry, event and audit entry."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from tests.apiclient import SOS_BODY, app_request, running_app, staff_headers
from tests.factories import World, build_world

from ansim.store.tables import audit_log, audit_pending, outbox


@pytest.fixture
def api(engine: Engine, database_url: str) -> Iterator[tuple[TestClient, World, Engine]]:
    world = build_world(engine)
    with running_app(engine, database_url) as client:
        yield client, world, engine


def test_a_note_reaches_the_timeline_the_units_event_and_the_audit_log(
    api: tuple[TestClient, World, Engine],
) -> None:
    client, world, engine = api
    sos = client.post(
        "/api/v1/app/sos", **app_request(world.app_credential, SOS_BODY, "note-press-01")
    )
    incident_id = sos.json()["incident_id"]
    board = staff_headers(client, "dispatcher")
    answer = client.post(
        f"/api/v1/incidents/{incident_id}/notes",
        json={"text": "  보호자(아버지)가 학교 정문으로 가는 중, 파란 점퍼  "},
        headers=board,
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["kind"] == "note_added"
    assert answer.json()["data"] == {"text": "보호자(아버지)가 학교 정문으로 가는 중, 파란 점퍼"}

    detail = client.get(f"/api/v1/incidents/{incident_id}", headers=board).json()
    notes = [e for e in detail["timeline"] if e["kind"] == "note_added"]
    assert [(n["actor"], n["data"]["text"]) for n in notes] == [
        ("dispatcher", "보호자(아버지)가 학교 정문으로 가는 중, 파란 점퍼")
    ]
    with engine.connect() as conn:
        event = conn.execute(
            sa.select(outbox.c.type, outbox.c.data).where(outbox.c.type == "incident.note_added")
        ).one()
        # Chained at once on SQLite; on PostgreSQL it waits in audit_pending until sealed.
        action = next(
            found
            for table in (audit_log, audit_pending)
            for found in conn.execute(
                sa.select(table.c.action).where(table.c.action == "incident.note")
            ).scalars()
        )
    assert event.type == "incident.note_added"
    assert action == "incident.note"
    # The crew ordered to it reads the note on its incident.
    officer = staff_headers(client, "officer")
    seen = client.get(f"/api/v1/incidents/{incident_id}", headers=officer)
    assert seen.status_code == 200
    assert any(e["kind"] == "note_added" for e in seen.json()["timeline"])


def test_an_empty_or_endless_note_is_refused_and_so_is_a_note_to_a_closed_case(
    api: tuple[TestClient, World, Engine],
) -> None:
    client, world, _engine = api
    sos = client.post(
        "/api/v1/app/sos", **app_request(world.app_credential, SOS_BODY, "note-press-02")
    )
    incident_id = sos.json()["incident_id"]
    board = staff_headers(client, "dispatcher")
    url = f"/api/v1/incidents/{incident_id}/notes"
    assert client.post(url, json={"text": "   "}, headers=board).status_code == 422
    assert client.post(url, json={"text": "x" * 501}, headers=board).status_code == 422
    assert (
        client.post("/api/v1/incidents/nope/notes", json={"text": "hi"}, headers=board).status_code
        == 404
    )
    for status in ("false_alarm", "closed"):
        moved = client.post(
            f"/api/v1/incidents/{incident_id}/status",
            json={"status": status, "reason": "done"},
            headers=board,
        )
        assert moved.status_code == 200, moved.text
    assert client.post(url, json={"text": "late"}, headers=board).status_code == 409


def test_the_supervisor_sees_the_shift_figures_and_a_dispatcher_does_not(
    api: tuple[TestClient, World, Engine],
) -> None:
    client, world, _engine = api
    client.post("/api/v1/app/sos", **app_request(world.app_credential, SOS_BODY, "shift-press-1"))
    figures = client.get("/api/v1/supervisor/shift", headers=staff_headers(client, "supervisor"))
    assert figures.status_code == 200, figures.text
    body = figures.json()
    assert body["received"] == 1
    assert sum(body["open_by_code"].values()) == 1
    assert body["press_to_order"]["count"] == 1  # auto-dispatched at once
    assert body["press_to_order"]["median_s"] == 0.0
    assert body["verification_outcomes"] == {"pending": 1}
    refused = client.get("/api/v1/supervisor/shift", headers=staff_headers(client, "dispatcher"))
    assert refused.status_code == 403


def test_the_shift_starts_at_the_last_change_in_seoul() -> None:
    from datetime import UTC, datetime, time

    from ansim.services.shift_figures import shift_start

    changes = [time(7, 0), time(19, 0)]
    # 06:30 in Seoul (21:30 UTC the day before): the night shift began at 19:00 Seoul the day before.
    assert shift_start(datetime(2026, 3, 1, 21, 30, tzinfo=UTC), changes) == datetime(
        2026, 3, 1, 10, 0, tzinfo=UTC
    )
    # 08:00 in Seoul: the day shift began at 07:00.
    assert shift_start(datetime(2026, 3, 1, 23, 0, tzinfo=UTC), changes) == datetime(
        2026, 3, 1, 22, 0, tzinfo=UTC
    )
