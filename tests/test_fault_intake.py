"""Kill -9 an API worker while SOS arrive over the carrier gateway and over terminals' MQTT, with
auto-dispatch on: requests were in flight at the kill, and nothing acknowledged is lost or doubled.

Short by default; ANSIM_FAULT_INTAKE_S=30 runs each channel's load for longer around the kill.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest
import sqlalchemy as sa
from tests.faultkit import Press, Scene, Senders, Server, audit, scene_fixture  # noqa: F401
from tests.intakekit import fix_at, terminal_message

from ansim.intake import terminal_protocol as protocol
from ansim.security.signing import carrier_headers
from ansim.services import carriers, terminals
from ansim.store.db import make_session_factory
from ansim.store.tables import assignments
from ansim.store.uow import UnitOfWork

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
MOSQUITTO = os.environ.get("ANSIM_TEST_MQTT_URL", "mqtt://127.0.0.1:1883")
LOAD_S = float(os.environ.get("ANSIM_FAULT_INTAKE_S", "2.0"))
AUTO = {"ANSIM_AUTO_DISPATCH": "true"}


def _orders(scene: Scene) -> int:
    engine = scene.engine()
    with engine.connect() as conn:
        count = int(conn.execute(sa.select(sa.func.count()).select_from(assignments)).scalar_one())
    engine.dispose()
    return count


def _in_flight_at(presses: list[Press], killed_at: float) -> list[Press]:
    """Presses sent before the kill and not acknowledged by then: their requests met it."""
    return [p for p in presses if p.first_at < killed_at and (p.acked_at or 1e18) > killed_at]


def _kill_and_audit(
    scene: Scene,
    worker: Server,
    settle: Callable[[], None],
    presses: list[Press],
    label: str,
) -> None:
    """Kills the worker under load, restarts it, and proves every acknowledged SOS stored once.

    A press in flight at the kill must be retried (same key) until acknowledged: not lost, not
    stored twice; and automatic dispatch kept ordering units while the worker was dead.
    """
    worker.kill9()
    killed_at = time.monotonic()
    time.sleep(1.5)
    worker.start()
    restart_s = worker.wait_healthy()
    time.sleep(LOAD_S)
    settle()
    engine = scene.engine()
    report = audit(engine, presses)
    engine.dispose()
    met = _in_flight_at(presses, killed_at)
    report.print(
        label,
        worker_restart_s=f"{restart_s:.2f}",
        in_flight_at_kill=len(met),
        orders=_orders(scene),
    )
    assert met, "no SOS was in flight at the kill: the test proved nothing"
    assert report.lost == 0
    assert report.duplicated == 0
    assert report.acknowledged == report.sent, "every press was acknowledged once retried"
    assert report.stored == report.sent
    assert _orders(scene) >= 1, "auto-dispatch ordered units while the worker died"


def test_killing_an_api_worker_loses_no_acknowledged_carrier_call(scene: Scene) -> None:
    engine = scene.engine()
    with UnitOfWork(make_session_factory(engine)).begin() as session:
        secret = carriers.register(session, carrier_id="skt", name="SKT", at=datetime.now(UTC))
    engine.dispose()
    first, second = scene.serve("api", **AUTO), scene.serve("api", **AUTO)
    scene.serve("scheduler,relay", **AUTO)
    for server in scene.processes:
        server.wait_healthy()

    def call(client: httpx.Client, url: str, press: Press) -> httpx.Response:
        raw = json.dumps(
            {
                "call_id": press.key,
                "caller_number": scene.world.one_touch_number,
                "called_at": datetime.now(UTC).isoformat(),
                "network_location": {"lat": 37.566, "lon": 126.979, "radius_m": 300},
            }
        ).encode()
        headers = carrier_headers(carrier_id="skt", secret=secret, body=raw, at=datetime.now(UTC))
        return client.post(
            f"{url}/api/v1/carrier/sos",
            content=raw,
            headers={**headers, "content-type": "application/json"},
        )

    senders = Senders([first.url, second.url], "", threads=6, every_s=0.02, send=call)
    senders.start()
    time.sleep(LOAD_S)
    _kill_and_audit(
        scene,
        first,
        senders.stop_and_settle,
        senders.presses,
        "carrier gateway, api worker kill -9",
    )


class MqttTerminal:
    """A terminal on the real broker: presses SOS at a steady rate, each retried unchanged until acked."""

    def __init__(self, terminal_id: str, secret: str, *, every_s: float, deadline_s: float) -> None:
        self.terminal_id, self.secret = terminal_id, secret
        self.every_s, self.deadline_s = every_s, deadline_s
        self.presses: list[Press] = []
        self.burst = threading.Event()
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    def start(self) -> None:
        self._thread.start()

    def settle(self) -> None:
        self.stop.set()
        self._thread.join(self.deadline_s + 30)
        if self.error is not None:
            raise self.error

    async def _run(self) -> None:
        from ansim.intake.mqtt import client_for

        try:
            async with client_for(MOSQUITTO, identifier=f"fault-{uuid.uuid4().hex[:8]}") as client:
                await client.subscribe(protocol.down_topic(self.terminal_id), qos=1)
                acks: dict[int, str] = {}
                listener = asyncio.create_task(self._listen(client, acks))
                pressing: list[asyncio.Task[None]] = []
                seq = 0
                while not self.stop.is_set():
                    count = 10 if self.burst.is_set() else 1
                    self.burst.clear()
                    for _ in range(count):
                        seq += 1
                        pressing.append(asyncio.create_task(self._press(client, seq, acks)))
                    await asyncio.sleep(self.every_s)
                await asyncio.gather(*pressing)
                listener.cancel()
        except BaseException as error:  # reported by settle()
            self.error = error

    async def _listen(self, client: object, acks: dict[int, str]) -> None:
        async for message in client.messages:  # type: ignore[attr-defined]
            reply = json.loads(bytes(message.payload))
            if reply.get("type") == "ack" and reply.get("status") in {"accepted", "duplicate"}:
                acks[int(reply["seq"])] = str(reply["incident_id"])

    async def _press(self, client: object, seq: int, acks: dict[int, str]) -> None:
        press = Press(key=str(seq), first_at=time.monotonic())
        self.presses.append(press)
        raw = terminal_message(
            self.terminal_id,
            self.secret,
            seq,
            "sos",
            datetime.now(UTC),
            fix=fix_at(37.5665, 126.978, datetime.now(UTC)),
        )
        while time.monotonic() - press.first_at < self.deadline_s:
            press.attempts += 1
            await client.publish(protocol.up_topic(self.terminal_id), raw, qos=1)  # type: ignore[attr-defined]
            for _ in range(20):
                await asyncio.sleep(0.05)
                if seq in acks:
                    press.incident_id, press.acked_at = acks[seq], time.monotonic()
                    press.statuses.append(200)
                    return
            press.statuses.append(0)
            if press.refused_at is None:
                press.refused_at = time.monotonic()


@pytest.mark.mqtt
def test_killing_an_api_worker_loses_no_acknowledged_terminal_sos_over_mqtt(scene: Scene) -> None:
    terminal_id = f"UA-F-{uuid.uuid4().hex[:8]}"
    engine = scene.engine()
    with UnitOfWork(make_session_factory(engine)).begin() as session:
        secret = terminals.enrol(
            session,
            terminal_id=terminal_id,
            subscriber_id=scene.world.subscriber_id,
            reporting_interval_s=600,
            actor="test",
            at=datetime.now(UTC),
        )
    engine.dispose()
    # Both workers share one subscription group of their own: each message reaches one of them.
    bridge = {
        **AUTO,
        "ANSIM_MQTT_URL": MOSQUITTO,
        "ANSIM_MQTT_SHARE_GROUP": f"f-{uuid.uuid4().hex[:8]}",
    }
    first, second = scene.serve("api", **bridge), scene.serve("api", **bridge)
    scene.serve("scheduler,relay", **AUTO)
    for server in scene.processes:
        server.wait_healthy()
    for server in (first, second):  # subscribed: ready answers 200 only once the bridge is up
        _wait_ready(server.url)
    device = MqttTerminal(terminal_id, secret, every_s=0.25, deadline_s=25.0)
    device.start()
    time.sleep(LOAD_S)
    device.burst.set()
    time.sleep(0.15)
    _kill_and_audit(
        scene, first, device.settle, device.presses, "terminal MQTT, api worker kill -9"
    )


def _wait_ready(url: str, timeout_s: float = 30.0) -> None:
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} never became ready")


def test_killing_the_notifier_mid_send_loses_no_guardian_message(scene: Scene) -> None:
    from tests.apiclient import SOS_BODY, app_request
    from tests.notify_servers import GATEWAY_SECRET, sms_receiver

    from ansim.store.tables import deliveries

    with sms_receiver() as receiver:
        receiver.delay_s = 1.5  # a slow provider: the notifier is mid-send when it dies
        sms = {
            "ANSIM_VERIFY_SMS_GATEWAY_URL": receiver.url,
            "ANSIM_VERIFY_SMS_GATEWAY_SECRET": GATEWAY_SECRET.decode(),
            "ANSIM_VERIFY_NOTIFIER_LEASE_S": "8",  # a send may take half of it
            "ANSIM_VERIFY_NOTIFIER_POLL_S": "0.2",
        }
        api = scene.serve("api", **AUTO, **sms)
        notifier = scene.serve("notifier", **sms)
        scene.serve("scheduler,relay", **AUTO, **sms)
        for server in scene.processes:
            server.wait_healthy()
        for n in range(3):
            answer = httpx.post(
                f"{api.url}/api/v1/app/sos",
                **app_request(
                    scene.world.app_credential,
                    {"fix": {**SOS_BODY["fix"], "accuracy_m": 20 + n}},
                    f"notify-fault-{n:04d}",
                ),
                timeout=10,
            )
            assert answer.status_code == 201, answer.text
        started = time.monotonic()
        while not receiver.calls and time.monotonic() - started < 30:
            time.sleep(0.05)
        with receiver.lock:
            in_flight = set(receiver.calls) - set(receiver.accepted)
        notifier.kill9()
        notifier.start()
        notifier.wait_healthy()
        engine = scene.engine()
        query = sa.select(deliveries.c.id, deliveries.c.status).where(deliveries.c.channel == "sms")
        settled_at = time.monotonic()
        while time.monotonic() - settled_at < 60:
            with engine.connect() as conn:
                rows = conn.execute(query).all()
            if rows and all(status in {"sent", "delivered"} for _, status in rows):
                break
            time.sleep(0.2)
        engine.dispose()
        with receiver.lock:
            calls, accepted = list(receiver.calls), dict(receiver.accepted)
    # message_id is `<delivery id>.<attempt>`: what reached the provider, per delivery.
    reached: dict[str, int] = {}
    for message_id in accepted:
        delivery_id = message_id.rsplit(".", 1)[0]
        reached[delivery_id] = reached.get(delivery_id, 0) + 1
    print(
        f"\n[notifier kill -9 mid-send] deliveries={len(rows)} in_flight_at_kill={len(in_flight)} "
        f"calls={len(calls)} accepted={len(accepted)} "
        f"sent_twice={sum(1 for n in reached.values() if n > 1)}"
    )
    assert in_flight, "no message was being sent at the kill: the test proved nothing"
    assert rows, "the SOS queued guardian messages"
    assert all(status in {"sent", "delivered"} for _, status in rows), rows
    # Every queued message reached the provider (at least once: a send cut by the kill is resent
    # after its lease under the next attempt's id; the figure above says how often).
    assert {str(delivery_id) for delivery_id, _ in rows} <= set(reached)
