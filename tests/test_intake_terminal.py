"""U-안심 terminals: signed messages over HTTP and MQTT, sequence replay refusal, supervision, merge."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Coroutine, Iterator
from datetime import timedelta
from typing import Any, TypeVar

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine
from tests.apiclient import SOS_BODY, app_request, staff_headers
from tests.factories import T0, World, build_world
from tests.intakekit import Clock, clocked_app, enrol_terminal, fix_at, terminal_message

from ansim.domain.errors import InvalidInput
from ansim.intake import terminal_protocol as protocol
from ansim.store.tables import incidents, intake_discards, outbox, terminals

T = TypeVar("T")
TID = "UA-0001"
MOSQUITTO = "mqtt://127.0.0.1:1883"


@pytest.fixture
def terminal(engine: Engine, database_url: str) -> Iterator[tuple[TestClient, World, Clock, str]]:
    world = build_world(engine)
    clock = Clock(T0)
    with clocked_app(engine, database_url, clock) as client:
        yield client, world, clock, enrol_terminal(client, world.subscriber_id, TID, interval_s=60)


def _send(client: TestClient, raw: bytes) -> tuple[int, list[dict[str, object]]]:
    answer = client.post("/api/v1/terminals/messages", content=raw)
    return answer.status_code, answer.json().get("replies", []) if answer.status_code == 200 else []


def _events(engine: Engine, kind: str) -> list[dict[str, object]]:
    with engine.connect() as conn:
        return [
            dict(row)
            for row in conn.execute(sa.select(outbox.c.data).where(outbox.c.type == kind)).scalars()
        ]


def test_an_sos_is_acknowledged_signed_and_a_retry_makes_no_second_incident(
    terminal: tuple[TestClient, World, Clock, str], engine: Engine
) -> None:
    client, world, _, secret = terminal
    sos = terminal_message(
        TID, secret, 1, "sos", T0, fix=fix_at(37.5665, 126.978, T0), battery_pct=80
    )
    status, replies = _send(client, sos)
    assert status == 200
    ack = replies[0]
    protocol.verify(ack, secret=secret)  # the device can trust its ack
    assert (ack["type"], ack["seq"], ack["status"]) == ("ack", 1, "accepted")
    status, again = _send(client, sos)
    assert again[0]["status"] == "duplicate"
    assert again[0]["incident_id"] == ack["incident_id"]
    detail = client.get(
        f"/api/v1/incidents/{ack['incident_id']}", headers=staff_headers(client, "dispatcher")
    ).json()
    assert detail["incident"]["channel"] == "terminal"
    assert detail["incident"]["subscriber_id"] == world.subscriber_id
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(incidents)).scalar_one() == 1


def test_forged_unknown_and_replayed_messages_are_refused_and_counted(
    terminal: tuple[TestClient, World, Clock, str], engine: Engine
) -> None:
    client, _, _, secret = terminal
    assert (
        _send(client, terminal_message(TID, secret, 5, "heartbeat", T0, battery_pct=90))[0] == 200
    )
    assert _send(client, terminal_message(TID, "not-the-secret", 6, "heartbeat", T0))[0] == 401
    assert _send(client, terminal_message("UA-9999", secret, 1, "sos", T0))[0] == 401
    assert (
        _send(client, terminal_message(TID, secret, 4, "heartbeat", T0, battery_pct=91))[0] == 409
    )
    assert _send(client, b'{"v":1,"type":"sos"}')[0] == 422
    assert client.post("/api/v1/terminals/messages", content=b"{" * 10_000).status_code == 413
    counts = client.get(
        "/api/v1/admin/intake/discards", headers=staff_headers(client, "admin")
    ).json()
    assert counts["terminal-http"] == {
        "bad_signature": 1,
        "unknown_terminal": 1,
        "stale_sequence": 1,
        "malformed": 1,
    }
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(incidents)).scalar_one() == 0


def test_heartbeats_get_config_and_a_silent_terminal_is_reported_lost_then_recovered(
    terminal: tuple[TestClient, World, Clock, str], engine: Engine
) -> None:
    client, _, clock, secret = terminal
    admin = staff_headers(client, "admin")
    client.patch(f"/api/v1/admin/terminals/{TID}", json={"reporting_interval_s": 30}, headers=admin)
    _, replies = _send(
        client, terminal_message(TID, secret, 1, "heartbeat", T0, battery_pct=15, config_version=1)
    )
    assert [r["type"] for r in replies] == ["ack", "config"]
    assert (replies[1]["reporting_interval_s"], replies[1]["config_version"]) == (30, 2)
    assert _events(engine, "terminal.low_battery")[0]["battery_pct"] == 15
    scheduler = client.app.state.context.scheduler  # type: ignore[attr-defined]
    assert scheduler.fire_due(T0 + timedelta(seconds=59)) == 0  # 30 s interval + 30 s grace
    assert scheduler.fire_due(T0 + timedelta(seconds=61)) == 1
    assert [t["lost"] for t in client.get("/api/v1/admin/terminals", headers=admin).json()] == [
        True
    ]
    assert _events(engine, "terminal.lost")[0]["terminal_id"] == TID
    clock.now = T0 + timedelta(minutes=5)
    _send(
        client,
        terminal_message(TID, secret, 2, "heartbeat", clock.now, battery_pct=14, config_version=2),
    )
    assert len(_events(engine, "terminal.recovered")) == 1
    assert [t["lost"] for t in client.get("/api/v1/admin/terminals", headers=admin).json()] == [
        False
    ]


def test_any_message_from_a_lost_terminal_recovers_it_as_the_message_left_it(
    terminal: tuple[TestClient, World, Clock, str], engine: Engine
) -> None:
    """A location message takes the single-message path; heartbeats come in batches: one rule."""
    client, _, clock, secret = terminal
    with engine.begin() as connection:
        connection.execute(
            terminals.update().where(terminals.c.id == TID).values(lost=True, battery_pct=80)
        )
    clock.now = T0 + timedelta(minutes=5)
    fixes = [fix_at(37.5665, 126.978, clock.now)]
    raw = terminal_message(TID, secret, 1, "location", clock.now, fixes=fixes, battery_pct=12)
    assert _send(client, raw)[0] == 200
    assert [e["battery_pct"] for e in _events(engine, "terminal.recovered")] == [12]
    assert [e["battery_pct"] for e in _events(engine, "terminal.low_battery")] == [12]


def test_app_and_terminal_of_one_person_join_one_incident_and_the_walk_follows(
    terminal: tuple[TestClient, World, Clock, str], engine: Engine
) -> None:
    client, world, clock, secret = terminal
    first = client.post(
        "/api/v1/app/sos", **app_request(world.app_credential, SOS_BODY, "press-0009")
    )
    clock.now = T0 + timedelta(seconds=20)
    _, replies = _send(
        client,
        terminal_message(
            TID, secret, 1, "sos", clock.now, fix=fix_at(37.5668, 126.9782, clock.now)
        ),
    )
    assert replies[0]["incident_id"] == first.json()["incident_id"]
    walk = [
        fix_at(37.5670 + i * 1e-4, 126.9785, clock.now + timedelta(seconds=i)) for i in range(1, 4)
    ]
    _send(client, terminal_message(TID, secret, 2, "location", clock.now, fixes=walk))
    detail = client.get(
        f"/api/v1/incidents/{first.json()['incident_id']}",
        headers=staff_headers(client, "dispatcher"),
    ).json()
    assert detail["incident"]["sos_count"] == 2
    assert [
        e["data"].get("channel") for e in detail["timeline"] if e["kind"] == "sos_repeated"
    ] == ["terminal"]
    assert len(detail["fixes"]) == 5
    # One estimate update per message: the app's SOS, the terminal's SOS, its three fixes.
    assert len(_events(engine, "incident.located")) == 3
    # The fused estimate follows the walk: near the newest fix.
    assert detail["incident"]["location"]["lat"] == pytest.approx(37.5673, abs=2e-4)


@settings(max_examples=200, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=6)
        ),
        max_leaves=20,
    )
)
def test_any_json_is_parsed_or_refused_as_invalid_input(document: object) -> None:
    try:
        message, _ = protocol.parse(json.dumps(document).encode())
    except InvalidInput as err:
        reason = str(err)  # refused with a reason, never another exception
        assert reason
        return
    assert message.terminal_id  # only a complete message gets through


@given(st.binary(max_size=300))
def test_any_bytes_are_parsed_or_refused_as_invalid_input(raw: bytes) -> None:
    try:
        message, _ = protocol.parse(raw)
    except InvalidInput as err:
        reason = str(err)  # refused with a reason, never another exception
        assert reason
        return
    assert message.terminal_id  # only a complete message gets through


def _run(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Runs a coroutine on its own thread: the sync Playwright of other tests may own this thread's loop."""
    results: list[T] = []
    worker = threading.Thread(target=lambda: results.append(asyncio.run(factory())))
    worker.start()
    worker.join(60)
    assert results, "the MQTT exchange did not finish"
    return results[0]


@pytest.mark.mqtt
def test_an_sos_over_mqtt_through_mosquitto_reaches_the_board(
    engine: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import aiomqtt

    from ansim.intake.mqtt import client_for

    async def broker_up() -> bool:
        try:
            async with client_for(MOSQUITTO):
                return True
        except aiomqtt.MqttError:
            return False

    if not _run(broker_up):
        from tests.conftest import missing_service

        missing_service(f"Mosquitto is not answering at {MOSQUITTO}")
    monkeypatch.setenv("ANSIM_MQTT_URL", MOSQUITTO)
    world = build_world(engine)
    clock = Clock(T0)
    with clocked_app(engine, database_url, clock) as client:
        secret = enrol_terminal(client, world.subscriber_id, "UA-MQTT-1")

        async def exchange() -> dict[str, object]:
            async with client_for(MOSQUITTO, identifier="test-device") as device:
                await device.subscribe(protocol.down_topic("UA-MQTT-1"), qos=1)
                sos = terminal_message(
                    "UA-MQTT-1", secret, 1, "sos", T0, fix=fix_at(37.5665, 126.978, T0)
                )
                for _attempt in range(20):  # the bridge may still be subscribing
                    await device.publish(protocol.up_topic("UA-MQTT-1"), sos, qos=1)
                    try:
                        async with asyncio.timeout(1.0):
                            async for message in device.messages:
                                reply: dict[str, object] = json.loads(bytes(message.payload))  # type: ignore[arg-type]
                                if reply["type"] == "ack":  # not the help_coming notice
                                    return reply
                    except TimeoutError:
                        continue
            raise AssertionError("no ack over MQTT")

        ack = _run(exchange)
        protocol.verify(ack, secret=secret)
        assert ack["status"] in {"accepted", "duplicate"}
        queue = client.get("/api/v1/incidents", headers=staff_headers(client, "dispatcher")).json()
        assert [i["id"] for i in queue] == [ack["incident_id"]]
        assert queue[0]["channel"] == "terminal"
    with engine.connect() as conn:
        assert (
            conn.execute(sa.select(sa.func.count()).select_from(intake_discards)).scalar_one() == 0
        )
