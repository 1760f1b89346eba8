"""Silent notices to the wearer's own terminal through the real Mosquitto: help is coming, acknowledged."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import aiomqtt
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from tests.apiclient import staff_headers
from tests.factories import PASSWORD, T0, World, build_world
from tests.intakekit import Clock, clocked_app, fix_at, terminal_message
from tests.live import free_port, serving
from tests.verifykit import CONFIG, platform_on, send_sos, uow_of

from ansim.api.app import create_app
from ansim.cli import device as device_cli
from ansim.cli import main
from ansim.domain.deliveries import Delivery, DeliveryChannel, DeliveryStatus, RecipientKind
from ansim.domain.incidents import Channel
from ansim.domain.verification import Answer, AnswerSource, DispatcherDecision
from ansim.intake import terminal_protocol as protocol
from ansim.intake.mqtt import client_for
from ansim.notify.channels import TerminalNotices
from ansim.notify.notifier import Notifier
from ansim.services import (
    app_accounts,
    deliveries,
    dispatch,
    incidents,
    terminal_notices,
    terminals,
    verification,
)
from ansim.services.platform import Platform
from ansim.settings import Settings
from ansim.store.tables import intake_discards
from ansim.store.tables import terminals as terminals_table

pytestmark = pytest.mark.mqtt
MOSQUITTO = "mqtt://127.0.0.1:1883"
NOTICES = dataclasses.replace(CONFIG, terminal_notices=True)
T = TypeVar("T")


def _in_own_loop(coroutine: Coroutine[Any, Any, T]) -> T:
    """Runs `coroutine` on a fresh loop in a worker thread (never on a loop the test may own)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result(timeout=90)


def _in_worker(function: Callable[[list[str]], T], args: list[str]) -> T:
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(function, args).result(timeout=90)


@pytest.fixture(scope="module")
def broker() -> str:
    async def up() -> bool:
        try:
            async with client_for(MOSQUITTO, timeout=3):
                return True
        except aiomqtt.MqttError:
            return False

    if not _in_own_loop(up()):
        from tests.conftest import missing_service

        missing_service(f"Mosquitto is not answering at {MOSQUITTO}")
    return MOSQUITTO


def _enrol(engine: Engine, world: World) -> tuple[str, str]:
    """A terminal with a fresh id (the broker outlives each test); returns its id and secret."""
    terminal_id = f"UA-N-{uuid.uuid4().hex[:8]}"
    with uow_of(engine).begin() as session:
        secret = terminals.enrol(
            session,
            terminal_id=terminal_id,
            subscriber_id=world.subscriber_id,
            reporting_interval_s=300,
            actor="test",
            at=T0,
        )
    return terminal_id, secret


def _notices(engine: Engine, incident_id: str) -> list[Delivery]:
    with uow_of(engine).read() as session:
        return [
            d
            for d in deliveries.for_incident(session, incident_id=incident_id)
            if d.channel == DeliveryChannel.TERMINAL
        ]


def _notifier(engine: Engine, sender: TerminalNotices) -> Notifier:
    """A notifier with the terminal channel only (the guardians' SMS then die: not looked at here)."""
    return Notifier(
        uow_of(engine), {DeliveryChannel.TERMINAL: sender}, clock=lambda: T0, retry=CONFIG.retry
    )


def _platform(engine: Engine) -> Platform:
    return platform_on(engine, config=NOTICES)


def _notice_ack(terminal_id: str, secret: str, seq: int, notice_id: str) -> bytes:
    return terminal_message(terminal_id, secret, seq, "notice_ack", T0, notice_id=notice_id)


def _checked_notice(raw: bytes, terminal_id: str, secret: str, notice: Delivery) -> None:
    """What the device checks: our signature, then the notice as documented."""
    document = json.loads(raw)
    protocol.verify(document, secret=secret)
    assert {k: v for k, v in document.items() if k != "sig"} == {
        "v": 1,
        "type": "notice",
        "terminal_id": terminal_id,
        "notice_id": notice.id,
        "kind": "help_coming",
        "text": "경찰이 출동했어요. 도움이 가고 있어요.",  # the family's language: Korean
        "silent": True,
    }


def test_a_broker_down_then_up_delivers_the_notice_exactly_once_and_the_ack_completes_it(
    engine: Engine, broker: str
) -> None:
    world = build_world(engine)
    terminal_id, secret = _enrol(engine, world)
    # A terminal SOS, auto-dispatched: the notice is signed and queued in the SOS's transaction.
    incident_id = send_sos(engine, world.subscriber_id, channel=Channel.TERMINAL, config=NOTICES)
    with uow_of(engine).begin() as session:
        assert incidents.get(session, incident_id=incident_id).status.value == "verifying"
        terminals.get(session, terminal_id=terminal_id).secret = "rotated after queueing"
    [queued] = _notices(engine, incident_id)
    assert (queued.status, queued.recipient_kind, queued.address) == (
        DeliveryStatus.QUEUED,
        RecipientKind.WEARER,
        terminal_id,
    )
    closed = f"mqtt://127.0.0.1:{free_port()}"
    sentinel = b"end of the test's messages"

    def state() -> tuple[DeliveryStatus, int]:
        notice = _notices(engine, incident_id)[0]
        return notice.status, notice.attempts

    async def scenario() -> list[bytes]:
        async with client_for(broker, identifier=f"test-{terminal_id}") as device:
            await device.subscribe(protocol.down_topic(terminal_id), qos=1)
            unreachable = TerminalNotices(url=closed, timeout_s=3)
            try:
                await _notifier(engine, unreachable).run_once(T0)
            finally:
                await unreachable.aclose()
            assert state() == (DeliveryStatus.FAILED, 1)
            assert "MQTT broker unreachable" in _notices(engine, incident_id)[0].last_error
            sender = TerminalNotices(url=broker, timeout_s=5)
            notifier = _notifier(engine, sender)
            try:
                # Backoff: nothing before 5 s; then sent once; a sent notice is never sent again.
                seen = []
                for seconds in (4, 5, 600):
                    await notifier.run_once(T0 + timedelta(seconds=seconds))
                    seen.append(state())
            finally:
                await sender.aclose()
            assert seen == [
                (DeliveryStatus.FAILED, 1),
                (DeliveryStatus.SENT, 2),
                (DeliveryStatus.SENT, 2),
            ]
            await device.publish(protocol.down_topic(terminal_id), sentinel, qos=1)
            received = []
            async with asyncio.timeout(30):
                async for message in device.messages:
                    payload = bytes(message.payload)  # type: ignore[arg-type]
                    if payload == sentinel:
                        return received
                    received.append(payload)
        raise AssertionError("unreachable")

    [raw] = _in_own_loop(scenario())
    notice = _notices(engine, incident_id)[0]
    assert (notice.status, notice.attempts) == (DeliveryStatus.SENT, 2)
    assert notice.provider_ref == f"mqtt:{protocol.down_topic(terminal_id)}"
    # Signed with the secret of queue time: the sender never reads the database.
    with pytest.raises(protocol.BadSignature):
        _checked_notice(raw, terminal_id, "rotated after queueing", notice)
    _checked_notice(raw, terminal_id, secret, notice)
    with uow_of(engine).begin() as session:
        terminals.get(session, terminal_id=terminal_id).secret = secret
    # The device's notice_ack (here over HTTP's code path) makes it delivered, on the timeline too.
    [ack] = terminals.do_receive_message(
        _platform(engine),
        raw=_notice_ack(terminal_id, secret, 1, notice.id),
        at=T0 + timedelta(seconds=7),
    )
    protocol.verify(ack, secret=secret)
    assert (ack["type"], ack["seq"], ack["status"]) == ("ack", 1, "accepted")
    delivered = _notices(engine, incident_id)[0]
    assert delivered.status == DeliveryStatus.DELIVERED
    assert delivered.delivered_at == T0 + timedelta(seconds=7)
    with uow_of(engine).read() as session:
        kinds = [e.kind for e in incidents.timeline(session, incident_id=incident_id)]
    assert "notification_delivered" in kinds


def test_the_wearer_hears_help_is_coming_over_mqtt_and_acknowledges_it(
    engine: Engine, database_url: str, broker: str
) -> None:
    world = build_world(engine)
    with clocked_app(engine, database_url, Clock(T0), mqtt_url=broker) as client:
        terminal_id, secret = _enrol(engine, world)

        async def device() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
            async with client_for(broker, identifier=f"test-{terminal_id}") as mqtt:
                await mqtt.subscribe(protocol.down_topic(terminal_id), qos=1)
                sos = terminal_message(
                    terminal_id, secret, 1, "sos", T0, fix=fix_at(37.5665, 126.978, T0)
                )
                by_type: dict[str, dict[str, Any]] = {}
                for _attempt in range(20):  # the bridge may still be subscribing
                    await mqtt.publish(protocol.up_topic(terminal_id), sos, qos=1)
                    try:
                        async with asyncio.timeout(1.5):
                            async for message in mqtt.messages:
                                document = json.loads(bytes(message.payload))  # type: ignore[arg-type]
                                protocol.verify(document, secret=secret)
                                by_type.setdefault(document["type"], document)
                                if {"ack", "notice"} <= set(by_type):
                                    break
                    except TimeoutError:
                        continue
                    break
                notice = by_type["notice"]
                ack = _notice_ack(terminal_id, secret, 2, notice["notice_id"])
                await mqtt.publish(protocol.up_topic(terminal_id), ack, qos=1)
                async with asyncio.timeout(20):
                    async for message in mqtt.messages:
                        document = json.loads(bytes(message.payload))  # type: ignore[arg-type]
                        if document.get("type") == "ack" and document.get("seq") == 2:
                            return by_type["ack"], notice, document
            raise AssertionError("no answer to the notice_ack")

        sos_ack, notice, notice_ack_ack = _in_own_loop(device())
        assert sos_ack["status"] in {"accepted", "duplicate"}
        incident_id = sos_ack["incident_id"]
        [stored] = _notices(engine, incident_id)
        _checked_notice(json.dumps(notice).encode(), terminal_id, secret, stored)
        protocol.verify(notice_ack_ack, secret=secret)
        assert notice_ack_ack["status"] == "accepted"
        assert stored.status == DeliveryStatus.DELIVERED
        board = client.get(
            f"/api/v1/incidents/{incident_id}/verification",
            headers=staff_headers(client, "dispatcher"),
        ).json()
        assert [(d["channel"], d["template"], d["status"]) for d in board["wearer_deliveries"]] == [
            ("terminal", "help_coming", "delivered")
        ]
        assert all(d["recipient_kind"] == "school_guard" for d in board["other_deliveries"])
    with engine.connect() as conn:
        assert (
            conn.execute(sa.select(sa.func.count()).select_from(intake_discards)).scalar_one() == 0
        )


def _app_sos(client: TestClient, terminal_id: str, secret: str, seq: int) -> str:
    answer = client.post(
        "/api/v1/terminals/messages",
        content=terminal_message(
            terminal_id, secret, seq, "sos", T0, fix=fix_at(37.5665, 126.978, T0)
        ),
    )
    assert answer.status_code == 200, answer.text
    incident_id: str = answer.json()["replies"][0]["incident_id"]
    return incident_id


def test_no_notice_ever_reaches_a_wearer_who_cancelled_under_duress(
    engine: Engine, database_url: str, broker: str
) -> None:
    world = build_world(engine)
    with uow_of(engine).begin() as session:
        app_accounts.set_pins(
            session, subscriber_id=world.subscriber_id, pin="1234", duress_pin="9999", at=T0
        )
    # No unit goes by itself: the dispatcher orders one after the cancel.
    with clocked_app(
        engine, database_url, Clock(T0), mqtt_url=broker, auto_dispatch=False
    ) as client:
        terminal_id, secret = _enrol(engine, world)
        dispatcher = staff_headers(client, "dispatcher")
        # First, without duress, the dispatcher's order does send one: this test can see notices.
        control = _app_sos(client, terminal_id, secret, 1)
        assert _notices(engine, control) == []  # nobody ordered yet
        ordered = client.post(
            f"/api/v1/incidents/{control}/dispatch",
            json={"unit_id": world.unit_ids["태평로11"]},
            headers=dispatcher,
        )
        assert ordered.status_code == 200, ordered.text
        assert [n.template for n in _notices(engine, control)] == ["help_coming"]
        for status in ("on_scene", "resolved"):
            moved = client.post(
                f"/api/v1/incidents/{control}/status",
                json={"status": status, "reason": "found safe"},
                headers=dispatcher,
            )
            assert moved.status_code == 200, moved.text
        # Then the wearer is forced to cancel: the device shows "cancelled" and must go on doing so.
        incident_id = _app_sos(client, terminal_id, secret, 2)
        assert incident_id != control
        cancel = client.post(
            "/api/v1/terminals/messages",
            content=terminal_message(terminal_id, secret, 3, "cancel", T0, pin="9999"),
        )
        assert cancel.json()["replies"][0]["status"] == "cancelled"
        ordered = client.post(
            f"/api/v1/incidents/{incident_id}/dispatch",
            json={"unit_id": world.unit_ids["남대문21"]},
            headers=dispatcher,
        )
        assert ordered.status_code == 200, ordered.text
        assert ordered.json()["incident"]["duress"] is True
        assert _notices(engine, incident_id) == []


def test_a_duress_cancel_withdraws_a_notice_that_has_not_left(engine: Engine) -> None:
    world = build_world(engine)
    terminal_id, secret = _enrol(engine, world)
    with uow_of(engine).begin() as session:
        app_accounts.set_pins(
            session, subscriber_id=world.subscriber_id, pin="1234", duress_pin="9999", at=T0
        )
    # Queued at dispatch, but the broker was down: it must not arrive after the "cancelled".
    [ack] = terminals.do_receive_message(
        _platform(engine),
        raw=terminal_message(terminal_id, secret, 1, "sos", T0, fix=fix_at(37.5665, 126.978, T0)),
        at=T0,
    )
    [pending] = _notices(engine, ack["incident_id"])
    assert pending.status == DeliveryStatus.QUEUED
    [cancelled] = terminals.do_receive_message(
        _platform(engine),
        raw=terminal_message(terminal_id, secret, 2, "cancel", T0, pin="9999"),
        at=T0 + timedelta(seconds=3),
    )
    assert cancelled["status"] == "cancelled"
    [withdrawn] = _notices(engine, ack["incident_id"])
    assert withdrawn.status == DeliveryStatus.DEAD
    assert withdrawn.last_error.startswith("withdrawn")
    with uow_of(engine).begin() as session:
        due = deliveries.claim_due(session, now=T0 + timedelta(hours=1), lease=timedelta(minutes=1))
        assert [d for d in due if d.channel == DeliveryChannel.TERMINAL] == []
        kinds = [e.kind for e in incidents.timeline(session, incident_id=ack["incident_id"])]
    assert "guardian_unreachable" not in kinds


def test_a_forged_or_unknown_notice_ack_is_refused_and_changes_nothing(
    engine: Engine, database_url: str, broker: str
) -> None:
    world = build_world(engine)
    incident_id = send_sos(engine, world.subscriber_id, auto_dispatch=False)
    terminal_id, secret = _enrol(engine, world)
    with uow_of(engine).begin() as session:
        dispatch.order_unit(
            session, incident_id=incident_id, unit_id=world.unit_ids["태평로11"], actor="d", at=T0
        )
        assert (
            terminal_notices.queue_help_coming(
                session,
                incident=incidents.get(session, incident_id=incident_id),
                config=NOTICES,
                at=T0,
            )
            == 1
        )
    [notice] = _notices(engine, incident_id)
    # The app's notifier publishes the notice meanwhile; only the device's ack may deliver it.
    with clocked_app(engine, database_url, Clock(T0), mqtt_url=broker) as client:
        forged = client.post(
            "/api/v1/terminals/messages",
            content=_notice_ack(terminal_id, "not-the-secret", 1, notice.id),
        )
        assert forged.status_code == 401
        unknown = client.post(
            "/api/v1/terminals/messages",
            content=_notice_ack(terminal_id, secret, 1, str(uuid.uuid4())),
        )
        assert unknown.status_code == 404
        assert "no notice" in unknown.json()["detail"]
        missing = client.post(
            "/api/v1/terminals/messages",
            content=terminal_message(terminal_id, secret, 1, "notice_ack", T0),
        )
        assert missing.status_code == 422
        [after] = _notices(engine, incident_id)
        assert after.status != DeliveryStatus.DELIVERED
        assert after.delivered_at is None
        with engine.connect() as conn:
            last_seq = conn.execute(
                sa.select(terminals_table.c.last_seq).where(terminals_table.c.id == terminal_id)
            ).scalar_one()
        assert last_seq == 0  # refused messages moved nothing, not even the sequence
        counts = client.get(
            "/api/v1/admin/intake/discards", headers=staff_headers(client, "admin")
        ).json()
        assert counts["terminal-http"] == {
            "bad_signature": 1,
            "unknown_notice": 1,
            "malformed": 1,
        }
        # The genuine ack, with the sequence the refused ones could not use up.
        genuine = client.post(
            "/api/v1/terminals/messages", content=_notice_ack(terminal_id, secret, 1, notice.id)
        )
        assert genuine.json()["replies"][0]["status"] == "accepted"
        assert _notices(engine, incident_id)[0].status == DeliveryStatus.DELIVERED


def test_a_stand_down_tells_a_terminal_that_heard_help_was_coming(engine: Engine) -> None:
    world = build_world(engine)
    terminal_id, _secret = _enrol(engine, world)
    incident_id = send_sos(engine, world.subscriber_id, channel=Channel.TERMINAL, config=NOTICES)
    [help_coming] = _notices(engine, incident_id)
    with uow_of(engine).begin() as session:
        deliveries.claim_due(session, now=T0, lease=timedelta(minutes=1))
        deliveries.record_sent(
            session, delivery_id=help_coming.id, attempt=1, provider_ref="mqtt", at=T0
        )
    with uow_of(engine).begin() as session:
        verification.record_answer(
            session,
            incident_id=incident_id,
            recipient_id="guardian-called",
            source=AnswerSource.DISPATCHER_CALL,
            answer=Answer.SAFE,
            actor="dispatcher",
            at=T0 + timedelta(seconds=20),
            platform=_platform(engine),
        )
        verification.decide(
            session,
            incident_id=incident_id,
            decision=DispatcherDecision.STAND_DOWN,
            actor="dispatcher",
            reason="",
            at=T0 + timedelta(seconds=30),
            platform=_platform(engine),
        )
    notices = _notices(engine, incident_id)
    assert [(n.template, n.address) for n in notices] == [
        ("help_coming", terminal_id),
        ("stood_down", terminal_id),
    ]
    assert json.loads(notices[1].body)["text"] == (
        "경찰 출동이 끝났어요. 도움이 필요하면 SOS를 다시 누르세요."
    )


def test_a_lost_broker_connection_fails_one_attempt_and_the_same_sender_reconnects(
    engine: Engine, broker: str
) -> None:
    world = build_world(engine)
    first, _ = _enrol(engine, world)
    incident_id = send_sos(engine, world.subscriber_id, channel=Channel.TERMINAL, config=NOTICES)
    sender = TerminalNotices(url=broker, timeout_s=3)
    notifier = _notifier(engine, sender)

    def statuses() -> dict[str, tuple[DeliveryStatus, int]]:
        return {n.address: (n.status, n.attempts) for n in _notices(engine, incident_id)}

    async def scenario() -> list[dict[str, tuple[DeliveryStatus, int]]]:
        seen = []
        try:
            await notifier.run_once(T0)
            seen.append(statuses())
            assert sender._client is not None
            # The broker drops the sender's connection when another client takes over its id.
            async with client_for(broker, identifier=sender._client.identifier):
                _enrol(engine, world)  # a second terminal: a second notice
                with uow_of(engine).begin() as session:
                    incident = incidents.get(session, incident_id=incident_id)
                    terminal_notices.queue_help_coming(
                        session, incident=incident, config=NOTICES, at=T0
                    )
                await notifier.run_once(T0 + timedelta(seconds=1))
                seen.append(statuses())
                await notifier.run_once(T0 + timedelta(seconds=6))
                seen.append(statuses())
        finally:
            await sender.aclose()
        return seen

    sent_first, failed, reconnected = _in_own_loop(scenario())
    second = next(t for t in reconnected if t != first)
    assert sent_first == {first: (DeliveryStatus.SENT, 1)}
    assert failed == {first: (DeliveryStatus.SENT, 1), second: (DeliveryStatus.FAILED, 1)}
    assert reconnected == {first: (DeliveryStatus.SENT, 1), second: (DeliveryStatus.SENT, 2)}


def test_the_reference_device_verifies_prints_and_acknowledges_a_notice(
    engine: Engine,
    database_url: str,
    broker: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    world = build_world(engine)
    monkeypatch.setattr(device_cli, "STATE_DIR", tmp_path)
    monkeypatch.delenv("ANSIM_MQTT_URL", raising=False)
    terminal_id = f"UA-CLI-{uuid.uuid4().hex[:8]}"
    app = create_app(
        Settings(database_url=database_url, outbox_poll_s=0.05, mqtt_url=broker), engine=engine
    )
    with serving(app) as live:
        base = ["device", "--server", live.url, "--terminal", terminal_id]
        enrol = [*base, "enrol", "--subscriber", world.subscriber_id, "--password", PASSWORD]
        assert main(enrol) == 0
        listen = [*base, "--mqtt", broker, "listen"]
        # A first listen makes the persistent session: the broker keeps what comes while away.
        # (In a worker thread: `listen` runs its own loop, and Playwright may own this thread's.)
        assert _in_worker(main, [*listen, "--timeout", "1"]) == 0
        assert main([*base, "sos", "--lat", "37.5665", "--lon", "126.9780"]) == 0
        capsys.readouterr()
        assert _in_worker(main, [*listen, "--count", "1", "--timeout", "30"]) == 0

    async def forget_session() -> None:  # the broker would keep it for ever
        async with client_for(broker, identifier=f"device-{terminal_id}", clean_session=True):
            pass

    _in_own_loop(forget_session())
    notice, ack = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    state = json.loads((tmp_path / f"{terminal_id}.json").read_text())
    protocol.verify(notice, secret=state["secret"])
    assert (notice["type"], notice["kind"], notice["silent"]) == ("notice", "help_coming", True)
    assert (ack["type"], ack["status"], ack["seq"]) == ("ack", "accepted", state["seq"])
    assert state["notices"] == [notice["notice_id"]]
    with uow_of(engine).read() as session:
        delivered = deliveries.get(session, delivery_id=notice["notice_id"])
    assert delivered.status == DeliveryStatus.DELIVERED
