"""The person's device never tells the real PIN from the duress PIN, in any state, on any channel.

Each case builds two incidents in the same state, cancels one with the real PIN and one with the
duress PIN, and compares everything the device receives byte for byte (ids and times masked):
the cancel's status and body, the status it reads later, and the notices it is sent afterwards.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from tests.apiclient import app_auth, app_request, staff_headers
from tests.factories import T0, World, build_world
from tests.intakekit import Clock, clocked_app, enrol_terminal, terminal_message
from tests.verifykit import uow_of

from ansim.domain.deliveries import DeliveryChannel
from ansim.services import app_accounts, deliveries

REAL, DURESS = "2580", "0852"
# How a dispatcher brings an incident into each state (from received, auto-dispatch off).
STATES: dict[str, list[str]] = {
    "received": [],
    "confirmed": ["confirmed"],
    "on_scene": ["confirmed", "on_scene"],
    "false_alarm": ["false_alarm"],
    "closed": ["false_alarm", "closed"],
    "resolved": ["confirmed", "on_scene", "resolved"],
    "cancelled": [],  # by the person's real PIN first (below); then the cancel compared
}
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.fixture
def device(engine: Engine, database_url: str) -> Iterator[tuple[TestClient, World, Clock]]:
    world = build_world(engine)
    with uow_of(engine).begin() as session:
        app_accounts.set_pins(
            session, subscriber_id=world.subscriber_id, pin=REAL, duress_pin=DURESS, at=T0
        )
    clock = Clock(T0)
    # No merging: each SOS is its own incident, so both PINs meet the same state side by side.
    with clocked_app(engine, database_url, clock, auto_dispatch=False, merge_window_s=0) as client:
        yield client, world, clock


def _signed(credential: str, body: dict[str, Any], clock: Clock) -> dict[str, Any]:
    return app_request(credential, body, at=clock.now)


def _masked(value: object) -> str:
    text = json.dumps(value, sort_keys=True) if not isinstance(value, str) else value
    text = _UUID.sub("<id>", text)
    return re.sub(r'"sig": "[0-9a-f]{64}"', '"sig": "<sig>"', text)


def _into(client: TestClient, incident_id: str, state: str) -> None:
    dispatcher = staff_headers(client, "dispatcher")
    for status in STATES[state]:
        moved = client.post(
            f"/api/v1/incidents/{incident_id}/status",
            json={"status": status, "reason": "test"},
            headers=dispatcher,
        )
        assert moved.status_code == 200, moved.text


def _terminal_notices(engine: Engine, incident_id: str) -> list[str]:
    with uow_of(engine).read() as session:
        return [
            f"{d.template}:{d.status}"
            for d in deliveries.for_incident(session, incident_id=incident_id)
            if d.channel == DeliveryChannel.TERMINAL
        ]


def _app_case(
    client: TestClient, world: World, clock: Clock, engine: Engine, state: str, pin: str
) -> list[str]:
    clock.now += timedelta(minutes=5)
    credential = world.app_credential
    sos = client.post("/api/v1/app/sos", **_signed(credential, {}, clock))
    assert sos.status_code == 201, sos.text
    incident_id = sos.json()["incident_id"]
    _into(client, incident_id, state)
    if state == "cancelled":
        first = client.post(
            f"/api/v1/app/incidents/{incident_id}/cancel",
            **_signed(credential, {"pin": REAL}, clock),
        )
        assert first.status_code == 200, first.text
    seen = [
        _masked(
            client.get(
                f"/api/v1/app/incidents/{incident_id}",
                auth=app_auth(credential, at=clock.now),
            ).json()
        )
    ]
    clock.now += timedelta(seconds=5)
    cancel = client.post(
        f"/api/v1/app/incidents/{incident_id}/cancel", **_signed(credential, {"pin": pin}, clock)
    )
    seen += [str(cancel.status_code), _masked(cancel.json())]
    # Later: the dispatcher goes on working the case (orders a unit when it still can).
    client.post(
        f"/api/v1/incidents/{incident_id}/dispatch",
        json={"unit_id": world.unit_ids["태평로11"]},
        headers=staff_headers(client, "dispatcher"),
    )
    later = client.get(
        f"/api/v1/app/incidents/{incident_id}", auth=app_auth(credential, at=clock.now)
    )
    return [*seen, str(later.status_code), _masked(later.json())]


@pytest.mark.parametrize("state", sorted(STATES))
def test_both_pins_look_the_same_to_the_app_in_every_state(
    device: tuple[TestClient, World, Clock], engine: Engine, state: str
) -> None:
    client, world, clock = device
    real = _app_case(client, world, clock, engine, state, REAL)
    duress = _app_case(client, world, clock, engine, state, DURESS)
    assert real == duress
    assert real[1:3] == [
        "200",
        _masked({"incident_id": "<id>", "status": "cancelled", "step": "cancelled", "eta_s": None}),
    ]


def _terminal_case(
    client: TestClient,
    world: World,
    clock: Clock,
    engine: Engine,
    state: str,
    pin: str,
    terminal: tuple[str, str],
    seq: int,
) -> list[str]:
    terminal_id, secret = terminal
    clock.now += timedelta(minutes=5)
    sos = client.post(
        "/api/v1/terminals/messages",
        content=terminal_message(terminal_id, secret, seq, "sos", clock.now),
    )
    assert sos.status_code == 200, sos.text
    incident_id = sos.json()["replies"][0]["incident_id"]
    _into(client, incident_id, state)
    clock.now += timedelta(seconds=5)
    if state == "cancelled":
        first = client.post(
            "/api/v1/terminals/messages",
            content=terminal_message(terminal_id, secret, seq + 1, "cancel", clock.now, pin=REAL),
        )
        assert first.status_code == 200, first.text
    cancel = client.post(
        "/api/v1/terminals/messages",
        content=terminal_message(terminal_id, secret, seq + 2, "cancel", clock.now, pin=pin),
    )
    seen = [str(cancel.status_code), _masked(cancel.json())]
    client.post(
        f"/api/v1/incidents/{incident_id}/dispatch",
        json={"unit_id": world.unit_ids["태평로11"]},
        headers=staff_headers(client, "dispatcher"),
    )
    # What reaches the wearer afterwards: the terminal notices queued for this incident.
    return [*seen, *_terminal_notices(engine, incident_id)]


@pytest.mark.parametrize("state", sorted(STATES))
def test_both_pins_look_the_same_to_the_terminal_in_every_state(
    device: tuple[TestClient, World, Clock], engine: Engine, state: str
) -> None:
    client, world, clock = device
    terminal = ("UA-PIN-1", enrol_terminal(client, world.subscriber_id, "UA-PIN-1"))
    real = _terminal_case(client, world, clock, engine, state, REAL, terminal, 1)
    duress = _terminal_case(client, world, clock, engine, state, DURESS, terminal, 11)
    # The acks differ only in their seq (and so their signature): mask the numbers.
    assert [re.sub(r'"seq": \d+', '"seq": <n>', line) for line in real] == [
        re.sub(r'"seq": \d+', '"seq": <n>', line) for line in duress
    ]
    assert real[0] == "200"
    assert json.loads(real[1])["replies"][0]["status"] == "cancelled"


@pytest.mark.parametrize("pin", [REAL, DURESS])
def test_regression_a_press_after_either_pin_opens_a_new_incident(
    engine: Engine, database_url: str, pin: str
) -> None:
    """Cancel then press again: a new incident linked to the first, answered alike for both PINs
    (the duress incident stays open for the police; the device must not learn that)."""
    world = build_world(engine)
    with uow_of(engine).begin() as session:
        app_accounts.set_pins(
            session, subscriber_id=world.subscriber_id, pin=REAL, duress_pin=DURESS, at=T0
        )
    clock = Clock(T0)
    with clocked_app(engine, database_url, clock) as client:
        credential = world.app_credential
        first = client.post("/api/v1/app/sos", **_signed(credential, {}, clock))
        assert first.status_code == 201, first.text
        clock.now += timedelta(seconds=3)
        cancel = client.post(
            f"/api/v1/app/incidents/{first.json()['incident_id']}/cancel",
            **_signed(credential, {"pin": pin}, clock),
        )
        assert cancel.status_code == 200
        clock.now += timedelta(seconds=2)
        again = client.post("/api/v1/app/sos", **_signed(credential, {}, clock))
        assert again.status_code == 201, again.text
        second = again.json()["incident_id"]
        assert second != first.json()["incident_id"]
        seen = client.get(
            f"/api/v1/app/incidents/{second}", auth=app_auth(credential, at=clock.now)
        ).json()
        assert seen["status"] == "active"
        board = client.get(
            f"/api/v1/incidents/{second}", headers=staff_headers(client, "dispatcher")
        ).json()["incident"]
        assert board["previous_incident_id"] == first.json()["incident_id"]
        # No fix in this press: open and visibly waiting for a location, as any such SOS.
        assert board["status"] == "received"
        assert board["no_location"] is True
