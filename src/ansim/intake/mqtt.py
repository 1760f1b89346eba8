"""The MQTT transport for terminals: QoS 1 up and down topics on the broker at ANSIM_MQTT_URL."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiomqtt

from ansim.intake import terminal_protocol as protocol

log = logging.getLogger(__name__)
RECONNECT_S = 2.0
# Off the broker longer than this (a reconnect or two), the bridge fails /readyz.
DOWN_GRACE_S = 10.0
# Messages being handled at once: enough to fill a heartbeat batch (api/heartbeat_batch.py) from
# a burst on the subscription; past it the bridge stops reading and the broker holds the rest.
MAX_IN_FLIGHT = 1000
# Handles one raw message from a terminal; returns the replies to publish on its down topic.
MessageHandler = Callable[[str, bytes], Awaitable[list[dict[str, Any]]]]


def client_for(
    url: str,
    *,
    identifier: str | None = None,
    timeout: float = 10,
    clean_session: bool | None = None,
) -> aiomqtt.Client:
    """An aiomqtt client for `mqtt://[user:password@]host[:port]`.

    A device passes `clean_session=False` with a stable identifier, so the broker keeps the QoS 1
    notices published while it was away.
    """
    parts = urlsplit(url)
    if parts.scheme not in {"mqtt", "tcp"} or not parts.hostname:
        raise ValueError(f"MQTT URL must look like mqtt://host:1883, got {url!r}")
    return aiomqtt.Client(
        parts.hostname,
        parts.port or 1883,
        username=parts.username,
        password=parts.password,
        identifier=identifier,
        timeout=timeout,
        clean_session=clean_session,
    )


def terminal_of(topic: str) -> str | None:
    """The terminal id in `ansim/v1/terminals/<id>/up`, or None for any other topic."""
    prefix, _, rest = topic.partition(protocol.TOPIC_PREFIX + "/")
    terminal_id, _, leaf = rest.partition("/")
    return terminal_id if not prefix and leaf == "up" and terminal_id else None


async def publish(client: aiomqtt.Client, terminal_id: str, replies: list[dict[str, Any]]) -> None:
    for reply in replies:
        payload = json.dumps(reply, separators=(",", ":"), ensure_ascii=False)
        await client.publish(protocol.down_topic(terminal_id), payload, qos=1)


@dataclass
class BridgeHealth:
    """What /readyz and /metrics know of the bridge: alive, subscribed, and how messages fared."""

    subscribed: bool = False
    down_since: float | None = field(default_factory=time.monotonic)
    dead: bool = False
    restarts: int = 0
    # outcome ("handled", "failed", "ignored") -> count
    messages: dict[str, int] = field(default_factory=dict)

    def count(self, outcome: str) -> None:
        self.messages[outcome] = self.messages.get(outcome, 0) + 1

    def up(self) -> None:
        self.subscribed, self.down_since = True, None

    def down(self) -> None:
        if self.subscribed or self.down_since is None:
            self.subscribed, self.down_since = False, time.monotonic()

    def ready(self) -> bool:
        """False once the bridge died, or has been off the broker longer than a reconnect."""
        if self.dead:
            return False
        return self.down_since is None or time.monotonic() - self.down_since < DOWN_GRACE_S


async def run_bridge(
    url: str,
    handle: MessageHandler,
    stopping: asyncio.Event,
    health: BridgeHealth | None = None,
    *,
    group: str = "ansim-intake",
) -> None:
    """Subscribes to every terminal's up topic and answers on its down topic until `stopping`.

    One message never stops the bridge: whatever it raises is logged with its topic and id,
    counted, and the next message is read.
    """
    health = health or BridgeHealth()
    while not stopping.is_set():
        try:
            async with (
                client_for(url, identifier=f"ansim-intake-{uuid.uuid4().hex[:12]}") as client,
                asyncio.TaskGroup() as handling,
            ):
                # Up to MAX_IN_FLIGHT replies publish at once by design: not worth a warning each.
                client.pending_calls_threshold = MAX_IN_FLIGHT
                # A shared subscription: with N API workers each message reaches exactly one.
                await client.subscribe(f"$share/{group}/{protocol.UP_TOPIC_FILTER}", qos=1)
                health.up()
                log.info("terminal MQTT bridge subscribed at %s", url)
                await _read(client, handle, health, handling)
        except* aiomqtt.MqttError as errors:
            health.down()
            log.warning(
                "terminal MQTT bridge lost the broker (%s); reconnecting", errors.exceptions[0]
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), timeout=RECONNECT_S)


async def _read(
    client: aiomqtt.Client,
    handle: MessageHandler,
    health: BridgeHealth,
    handling: asyncio.TaskGroup,
) -> None:
    """Hands each message to its own task, so that heartbeats arriving together commit together.

    Awaiting each message before reading the next made every MQTT heartbeat a batch of one (a
    commit each). A terminal's own messages still go one after another, in the order sent: its
    sequence numbers must arrive rising. A failed reply's MqttError ends the task group, and with
    it this connection (the bridge reconnects).
    """
    slots = asyncio.Semaphore(MAX_IN_FLIGHT)
    last_of: dict[str, asyncio.Task[None]] = {}

    async def in_turn(
        message: aiomqtt.Message, before: asyncio.Task[None] | None, key: str
    ) -> None:
        try:
            if before is not None:
                with contextlib.suppress(Exception):
                    await before
            await _one(client, message, handle, health)
        finally:
            slots.release()
            if last_of.get(key) is asyncio.current_task():
                del last_of[key]

    async for message in client.messages:
        await slots.acquire()
        key = str(message.topic)
        last_of[key] = handling.create_task(in_turn(message, last_of.get(key), key))


async def _one(
    client: aiomqtt.Client, message: aiomqtt.Message, handle: MessageHandler, health: BridgeHealth
) -> None:
    topic = str(message.topic)
    terminal_id = terminal_of(topic)
    if terminal_id is None or not isinstance(message.payload, bytes | bytearray):
        health.count("ignored")
        return
    try:
        replies = await handle(terminal_id, bytes(message.payload))
    except Exception:
        health.count("failed")
        log.exception(
            "terminal MQTT message %s on %s (%d bytes) failed; bridge goes on",
            message.mid,
            topic[:200],
            len(message.payload),
        )
        return
    health.count("handled")
    # Publishing a reply needs the broker: its errors are the connection's, and reconnect.
    await publish(client, terminal_id, replies)


async def supervise_bridge(
    url: str,
    handle: MessageHandler,
    stopping: asyncio.Event,
    health: BridgeHealth,
    *,
    group: str = "ansim-intake",
) -> None:
    """Runs the bridge and restarts it if it ever dies of something unforeseen (marked dead meanwhile)."""
    while not stopping.is_set():
        try:
            await run_bridge(url, handle, stopping, health, group=group)
        except asyncio.CancelledError:
            raise
        except Exception:
            health.dead, health.subscribed = True, False
            health.restarts += 1
            log.exception("terminal MQTT bridge died; restarting in %.0f s", RECONNECT_S)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), timeout=RECONNECT_S)
            health.dead = False
            health.down()
