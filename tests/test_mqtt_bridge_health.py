"""The terminal MQTT bridge: a bridge that dies is restarted, and fails /readyz meanwhile."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from tests.factories import T0
from tests.intakekit import Clock, clocked_app

from ansim.intake import mqtt


def _in_thread(coroutine: Any) -> Any:
    results: list[Any] = []
    worker = threading.Thread(target=lambda: results.append(asyncio.run(coroutine)))
    worker.start()
    worker.join(30)
    assert results, "did not finish"
    return results[0]


def test_a_bridge_that_dies_is_marked_dead_then_restarted(monkeypatch: pytest.MonkeyPatch) -> None:
    runs: list[str] = []

    async def fragile(
        url: str, handle: Any, stopping: asyncio.Event, health: Any, **_: Any
    ) -> None:
        runs.append(url)
        if len(runs) == 1:
            raise RuntimeError("something nobody foresaw")
        health.up()
        await stopping.wait()

    monkeypatch.setattr(mqtt, "run_bridge", fragile)
    monkeypatch.setattr(mqtt, "RECONNECT_S", 0.3)

    async def scenario() -> tuple[bool, bool, int, int]:
        health, stopping = mqtt.BridgeHealth(), asyncio.Event()

        async def handle(terminal_id: str, raw: bytes) -> list[dict[str, Any]]:
            return []

        task = asyncio.create_task(mqtt.supervise_bridge("mqtt://x", handle, stopping, health))
        await asyncio.sleep(0.1)
        while_dead = health.ready()
        await asyncio.sleep(0.6)
        after_restart = health.ready()
        stopping.set()
        await asyncio.wait_for(task, 5)
        return while_dead, after_restart, health.restarts, len(runs)

    while_dead, after_restart, restarts, run_count = _in_thread(scenario())
    assert (while_dead, after_restart, restarts, run_count) == (False, True, 1, 2)


def test_a_bridge_off_its_broker_too_long_is_not_ready(monkeypatch: pytest.MonkeyPatch) -> None:
    health = mqtt.BridgeHealth()
    health.up()
    assert health.ready()
    monkeypatch.setattr(mqtt, "DOWN_GRACE_S", 0.0)
    health.down()
    assert not health.ready()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_readyz_fails_while_the_terminal_bridge_is_dead(
    engine: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A broker nobody answers at: the bridge keeps reconnecting in the background.
    monkeypatch.setenv("ANSIM_MQTT_URL", "mqtt://127.0.0.1:9")
    with clocked_app(engine, database_url, Clock(T0)) as client:
        health: mqtt.BridgeHealth = client.app.state.terminal_bridge  # type: ignore[attr-defined]
        health.up()
        assert client.get("/readyz").status_code == 200
        health.dead = True
        answer = client.get("/readyz")
        assert answer.status_code == 503
        assert answer.json()["checks"]["terminal_mqtt"] == "down"
        assert 'ansim_bridge_up{bridge="terminal-mqtt"}' in client.get("/metrics").text
