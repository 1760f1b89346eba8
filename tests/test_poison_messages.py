"""Poison messages on every intake entry point: refused (4xx, or the protocol's 2xx discard) and
counted, never a 5xx, and the next valid message is processed as if nothing had happened.

MQTT goes through the real Mosquitto: 4 KB of nested brackets on a terminal's up topic, then a
valid signed SOS that must be acknowledged (the issue's reproduction), and a handler that raises
something unforeseen, which the bridge logs, counts in /metrics and survives.
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from tests.apiclient import app_auth, app_request, staff_headers
from tests.factories import T0, World, build_world
from tests.intakekit import (
    Clock,
    clocked_app,
    els_signed,
    enrol_terminal,
    fix_at,
    register_carrier,
    terminal_message,
)

from ansim.intake import terminal_protocol as protocol
from ansim.security.signing import carrier_headers

T = TypeVar("T")
MOSQUITTO = "mqtt://127.0.0.1:1883"
NESTED = b"[" * 4096
POISON: dict[str, bytes] = {
    "nested_brackets": NESTED,
    "nested_objects": b'{"a":' * 1000 + b"1" + b"}" * 1000,
    "binary": bytes(range(256)) * 4,
    "not_an_object": b"[1, 2, 3]",
    "scalar": b"12345",
    "wrong_types": b'{"v": "one", "type": 7, "seq": "x", "fix": {"lat": "north"}}',
    "empty": b"",
}
JSON = {"content-type": "application/json"}
FORM = {"content-type": "application/x-www-form-urlencoded"}
AML = 'A"ML=1;lt=+37.56650;lg=+126.97800;rd=10;top=20261128085958;lc=68;pm=G;si=450050000000000;ei=356938035643809;mcc=450;mnc=05;ml=124'
ELS = (
    "v=3&emergency_number=112&source=call&time=1795856400000&device_number=%2B821012345678"
    "&location_latitude=37.5667&location_longitude=126.9781&location_accuracy=12"
    "&location_source=gps&location_time=1795856399000&device_imei=356938035643809"
)


@pytest.fixture
def gateway(engine: Engine, database_url: str) -> Iterator[tuple[TestClient, World, str]]:
    world = build_world(engine)
    with clocked_app(engine, database_url, Clock(T0)) as client:
        yield client, world, register_carrier(client)


def _carrier(client: TestClient, path: str, raw: bytes, secret: str) -> Any:
    headers = carrier_headers(carrier_id="skt", secret=secret, body=raw, at=T0)
    return client.post(path, content=raw, headers={**headers, **JSON})


def _call(call_id: str) -> bytes:
    return json.dumps(
        {"call_id": call_id, "caller_number": "+821012345678", "called_at": T0.isoformat()}
    ).encode()


@pytest.mark.parametrize("poison", sorted(POISON))
def test_the_carrier_gateway_refuses_poison_and_takes_the_next_call(
    gateway: tuple[TestClient, World, str], poison: str
) -> None:
    client, _, secret = gateway
    refused = _carrier(client, "/api/v1/carrier/sos", POISON[poison], secret)
    assert 400 <= refused.status_code < 500, refused.text
    call = _carrier(client, "/api/v1/carrier/sos", _call(f"call-{poison}"), secret)
    assert call.status_code == 201, call.text


@pytest.mark.parametrize("poison", sorted(POISON))
def test_aml_discards_poison_with_2xx_and_takes_the_next_sms(
    gateway: tuple[TestClient, World, str], poison: str
) -> None:
    client, _, secret = gateway
    discarded = _carrier(client, "/api/v1/carrier/aml", POISON[poison], secret)
    assert discarded.status_code in {200, 413, 422}, discarded.text
    if discarded.status_code == 200:
        assert discarded.json()["accepted"] is False
    text = AML.replace("ml=124", f"ml={len(AML)}")
    sms = json.dumps({"originating_number": "01012345678", "text": text}).encode()
    taken = _carrier(client, "/api/v1/carrier/aml", sms, secret)
    assert taken.status_code == 200, taken.text
    assert taken.json()["accepted"] is True


@pytest.mark.parametrize("poison", sorted(POISON))
def test_els_discards_poison_with_2xx_and_takes_the_next_post(
    gateway: tuple[TestClient, World, str], poison: str
) -> None:
    client, _, _ = gateway
    discarded = client.post("/api/v1/els", content=POISON[poison], headers=FORM)
    assert discarded.status_code == 200, discarded.text
    assert discarded.json()["accepted"] is False
    taken = client.post("/api/v1/els", content=els_signed(ELS), headers=FORM)
    assert taken.status_code == 200, taken.text
    assert taken.json()["accepted"] is True


@pytest.mark.parametrize("poison", sorted(POISON))
def test_the_app_refuses_poison_and_takes_the_next_sos(
    gateway: tuple[TestClient, World, str], poison: str
) -> None:
    client, world, _ = gateway
    # Signed as the app would sign it: the poison itself, not a missing signature, is refused.
    signed = app_auth(world.app_credential, body=POISON[poison], at=T0)
    refused = client.post("/api/v1/app/sos", content=POISON[poison], headers=JSON, auth=signed)
    assert 400 <= refused.status_code < 500, refused.text
    sos = client.post("/api/v1/app/sos", **app_request(world.app_credential, {}, at=T0))
    assert sos.status_code == 201, sos.text


@pytest.mark.parametrize("poison", sorted(POISON))
def test_the_terminal_http_channel_refuses_poison_and_takes_the_next_sos(
    gateway: tuple[TestClient, World, str], poison: str
) -> None:
    client, world, _ = gateway
    secret = enrol_terminal(client, world.subscriber_id, "UA-POISON")
    refused = client.post("/api/v1/terminals/messages", content=POISON[poison])
    assert 400 <= refused.status_code < 500, refused.text
    sos = terminal_message("UA-POISON", secret, 1, "sos", T0, fix=fix_at(37.5665, 126.978, T0))
    answer = client.post("/api/v1/terminals/messages", content=sos)
    assert answer.status_code == 200, answer.text
    assert answer.json()["replies"][0]["status"] == "accepted"


def _run(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Runs a coroutine on its own thread (a Playwright test may own this thread's loop)."""
    results: list[T] = []
    worker = threading.Thread(target=lambda: results.append(asyncio.run(factory())))
    worker.start()
    worker.join(90)
    assert results, "the MQTT exchange did not finish"
    return results[0]


@pytest.fixture
def broker() -> str:
    import aiomqtt

    from ansim.intake.mqtt import client_for

    async def up() -> bool:
        try:
            async with client_for(MOSQUITTO, timeout=3):
                return True
        except aiomqtt.MqttError:
            return False

    if not _run(up):
        from tests.conftest import missing_service

        missing_service(f"Mosquitto is not answering at {MOSQUITTO}")
    return MOSQUITTO


async def _ack_after(poison: list[bytes], terminal_id: str, sos: bytes) -> dict[str, Any]:
    """Publishes the poison then the SOS (again, until acknowledged); returns the ack."""
    from ansim.intake.mqtt import client_for

    async with client_for(MOSQUITTO, identifier=f"poison-{uuid.uuid4().hex[:8]}") as device:
        await device.subscribe(protocol.down_topic(terminal_id), qos=1)
        for raw in poison:
            await device.publish(protocol.up_topic(terminal_id), raw, qos=1)
        for _attempt in range(20):  # the bridge may still be subscribing
            await device.publish(protocol.up_topic(terminal_id), sos, qos=1)
            try:
                async with asyncio.timeout(1.0):
                    async for message in device.messages:
                        reply: dict[str, Any] = json.loads(bytes(message.payload))  # type: ignore[arg-type]
                        if reply["type"] == "ack":
                            return reply
            except TimeoutError:
                continue
    raise AssertionError("no ack over MQTT")


@pytest.mark.mqtt
def test_regression_nested_brackets_over_mqtt_then_a_valid_sos_is_acknowledged(
    engine: Engine, database_url: str, broker: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    group = f"poison-{uuid.uuid4().hex[:8]}"  # our own group: other runs' bridges get no share
    monkeypatch.setenv("ANSIM_MQTT_URL", broker)
    monkeypatch.setenv("ANSIM_MQTT_SHARE_GROUP", group)
    world = build_world(engine)
    terminal_id = f"UA-{uuid.uuid4().hex[:10]}"
    with clocked_app(engine, database_url, Clock(T0)) as client:
        secret = enrol_terminal(client, world.subscriber_id, terminal_id)
        sos = terminal_message(terminal_id, secret, 1, "sos", T0, fix=fix_at(37.5665, 126.978, T0))
        ack = _run(lambda: _ack_after([NESTED, *POISON.values()], terminal_id, sos))
        protocol.verify(ack, secret=secret)
        assert ack["status"] in {"accepted", "duplicate"}
        assert client.get("/readyz").status_code == 200
        discards = client.get(
            "/api/v1/admin/intake/discards", headers=staff_headers(client, "admin")
        ).json()
        assert discards["terminal-mqtt"]["malformed"] >= 1


@pytest.mark.mqtt
def test_an_unforeseen_error_in_one_mqtt_message_is_logged_counted_and_the_bridge_goes_on(
    engine: Engine,
    database_url: str,
    broker: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from ansim.services import terminals

    group = f"poison-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("ANSIM_MQTT_URL", broker)
    monkeypatch.setenv("ANSIM_MQTT_SHARE_GROUP", group)
    world = build_world(engine)
    terminal_id = f"UA-{uuid.uuid4().hex[:10]}"
    real = terminals.do_receive_message
    exploded: list[bytes] = []

    def first_one_explodes(*args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        if not exploded:
            exploded.append(kwargs["raw"])
            raise StopIteration("an error nobody listed")  # what killed the bridge before
        return real(*args, **kwargs)

    monkeypatch.setattr(terminals, "do_receive_message", first_one_explodes)
    with clocked_app(engine, database_url, Clock(T0)) as client:
        secret = enrol_terminal(client, world.subscriber_id, terminal_id)
        # A location report, not a heartbeat: heartbeats take the batch path (do_record_heartbeats).
        first = terminal_message(
            terminal_id, secret, 1, "location", T0, fix=fix_at(37.5665, 126.978, T0)
        )
        sos = terminal_message(terminal_id, secret, 2, "sos", T0, fix=fix_at(37.5665, 126.978, T0))
        ack = _run(lambda: _ack_after([first], terminal_id, sos))
        assert ack["status"] in {"accepted", "duplicate"}
        assert exploded, "the first message never reached the handler"
        metrics = client.get("/metrics").text
        failed = 'ansim_bridge_messages_total{bridge="terminal-mqtt",outcome="failed"} 1.0'
        assert failed in metrics, metrics
        assert client.get("/readyz").status_code == 200
    assert any("bridge goes on" in r.message or "failed" in r.message for r in caplog.records)


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        (b"garbage", "message is not JSON"),
        (b'{"v":1,"type":"sos","terminal_id":"UA-1","seq":', "message is not JSON"),
        (b'{"v": 1, "type": "sos", "seq": 1}', "terminal_id"),
    ],
)
def test_regression_an_unreadable_mqtt_message_is_discarded_for_what_is_wrong_with_it(
    engine: Engine, database_url: str, raw: bytes, says: str
) -> None:
    """It was discarded as naming another terminal than its topic, which sent an operator looking
    for a misconfigured device instead of a broken one."""
    import sqlalchemy as sa

    from ansim.api import terminal
    from ansim.store.tables import intake_discards

    with clocked_app(engine, database_url, Clock(T0)) as client:
        context = client.app.state.context  # type: ignore[attr-defined]
        replies = _run(
            lambda: terminal.receive(context, raw, channel="terminal-mqtt", topic_terminal="UA-1")
        )
    assert replies == []  # over MQTT a refused message gets no reply
    with engine.connect() as conn:
        (reason, detail), *_ = conn.execute(
            sa.select(intake_discards.c.reason, intake_discards.c.detail)
        ).all()
    assert reason == "malformed"
    assert says in detail, detail
