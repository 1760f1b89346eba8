"""Heartbeats over MQTT for the scale benchmark: a private broker and a closed-loop device fleet.

Over HTTP every heartbeat is a request with its own parse and answer; over MQTT a few
connections carry many terminals and the bridge feeds the heartbeat batcher in bulk. The broker
is a private mosquitto on a free port (the shared one on 1883 serves other sessions' servers,
whose bridges would take a share of these messages and count them as unknown terminals).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import aiomqtt

from ansim.intake import terminal_protocol as protocol
from ansim_bench.intake_bench import _free_port
from ansim_bench.scale_heartbeats import signed_heartbeat
from ansim_bench.scale_world import Population

# Publishing connections, and heartbeats awaiting their ack on each: enough in flight for the
# bridge's batches to fill (a closed loop of one would measure a commit per heartbeat).
CONNECTIONS = 4
IN_FLIGHT_PER_CONNECTION = 64
MOSQUITTO = "/usr/sbin/mosquitto"


@contextlib.contextmanager
def private_broker() -> Iterator[str]:
    """A mosquitto of this run only; yields its `mqtt://` URL."""
    binary = shutil.which("mosquitto") or MOSQUITTO
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="ansim-mqtt-") as scratch:
        config = Path(scratch) / "mosquitto.conf"
        config.write_text(
            f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
            "max_inflight_messages 0\nmax_queued_messages 100000\n"
        )
        broker = subprocess.Popen(  # noqa: S603 — the system's mosquitto, our config
            [binary, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            _wait_for_port(port, broker)
            yield f"mqtt://127.0.0.1:{port}"
        finally:
            broker.terminate()
            broker.wait(timeout=10)


def _wait_for_port(port: int, process: subprocess.Popen[bytes]) -> None:
    for _ in range(100):
        if process.poll() is not None:
            raise RuntimeError(f"mosquitto exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"mosquitto did not listen on {port}")


async def wait_for_bridge(url: str, population: Population, seq: dict[int, int]) -> None:
    """Until the server's bridge answers (it subscribes a moment after the server is up)."""
    parts = url.removeprefix("mqtt://").split(":")
    async with aiomqtt.Client(parts[0], int(parts[1])) as client:
        await client.subscribe(protocol.down_topic(population.terminal_id(0)), qos=1)
        for _ in range(100):
            seq[0] += 1
            await client.publish(
                protocol.up_topic(population.terminal_id(0)),
                signed_heartbeat(population, 0, seq[0]),
                1,
            )
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.5):
                    async for _ in client.messages:
                        return
        raise RuntimeError("the server's MQTT bridge never answered")


async def heartbeats(
    url: str, population: Population, seconds: float, seq: dict[int, int]
) -> tuple[int, int, list[float], float]:
    """Closed loop over MQTT; returns sent, accepted, latencies (s) and elapsed seconds.

    `seq` (each terminal's last sent sequence number) moves with every accepted heartbeat. A
    terminal has at most one heartbeat in flight, as a device would.
    """
    host, port = url.removeprefix("mqtt://").split(":")
    waiting: dict[str, tuple[int, float, asyncio.Future[str]]] = {}
    timings: list[float] = []
    counts = {"sent": 0, "accepted": 0}
    deadline = time.perf_counter() + seconds
    free = collections.deque(range(population.terminals))

    async def listen(client: aiomqtt.Client) -> None:
        async for message in client.messages:
            reply = json.loads(message.payload)
            entry = waiting.get(reply["terminal_id"])
            if entry is not None and reply.get("type") == "ack" and reply["seq"] == entry[0]:
                entry[2].set_result(reply["status"])

    async def device(client: aiomqtt.Client) -> None:
        loop = asyncio.get_running_loop()
        while time.perf_counter() < deadline and free:
            j = free.popleft()
            terminal_id = population.terminal_id(j)
            done: asyncio.Future[str] = loop.create_future()
            started = time.perf_counter()
            waiting[terminal_id] = (seq[j] + 1, started, done)
            counts["sent"] += 1
            await client.publish(
                protocol.up_topic(terminal_id), signed_heartbeat(population, j, seq[j] + 1), qos=1
            )
            try:
                status = await asyncio.wait_for(done, timeout=30)
            except TimeoutError:
                status = "timeout"
            timings.append(time.perf_counter() - started)
            del waiting[terminal_id]
            if status == "accepted":
                counts["accepted"] += 1
                seq[j] += 1
            free.append(j)

    async with contextlib.AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(aiomqtt.Client(host, int(port)))
            for _ in range(CONNECTIONS)
        ]
        for client in clients:  # the fleet publishes IN_FLIGHT_PER_CONNECTION at once each
            client.pending_calls_threshold = IN_FLIGHT_PER_CONNECTION
        # One connection hears every down topic for the whole fleet.
        await clients[0].subscribe(f"{protocol.TOPIC_PREFIX}/+/down", qos=1)
        listener = asyncio.create_task(listen(clients[0]))
        started = time.perf_counter()
        await asyncio.gather(
            *(device(client) for client in clients for _ in range(IN_FLIGHT_PER_CONNECTION))
        )
        elapsed = time.perf_counter() - started
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener
    return counts["sent"], counts["accepted"], timings, elapsed
