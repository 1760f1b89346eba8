"""The MQTT transport for terminals: QoS 1 up and down topics on the broker at ANSIM_MQTT_URL."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import aiomqtt

from ansim.intake import terminal_protocol as protocol

log = logging.getLogger(__name__)
RECONNECT_S = 2.0
SHARED_GROUP = "$share/ansim-intake/"
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


async def run_bridge(url: str, handle: MessageHandler, stopping: asyncio.Event) -> None:
    """Subscribes to every terminal's up topic and answers on its down topic until `stopping`."""
    while not stopping.is_set():
        try:
            async with client_for(
                url, identifier=f"ansim-intake-{uuid.uuid4().hex[:12]}"
            ) as client:
                # A shared subscription: with N API workers each message reaches exactly one.
                await client.subscribe(SHARED_GROUP + protocol.UP_TOPIC_FILTER, qos=1)
                log.info("terminal MQTT bridge subscribed at %s", url)
                async for message in client.messages:
                    terminal_id = terminal_of(str(message.topic))
                    if terminal_id is None or not isinstance(message.payload, bytes | bytearray):
                        continue
                    replies = await handle(terminal_id, bytes(message.payload))
                    await publish(client, terminal_id, replies)
        except aiomqtt.MqttError as err:
            log.warning("terminal MQTT bridge lost the broker (%s); reconnecting", err)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), timeout=RECONNECT_S)
