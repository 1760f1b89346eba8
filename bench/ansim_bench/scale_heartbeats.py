"""The scale benchmark's heartbeats: the fleet's signed heartbeats in closed loops over HTTP and
over MQTT, and a check that every terminal stored the sequence it last sent."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import replace
from datetime import UTC, datetime

import sqlalchemy as sa

from ansim.intake import terminal_protocol as protocol
from ansim.services import terminals
from ansim.store.db import make_engine
from ansim.store.tables import deadlines
from ansim.store.tables import terminals as terminals_table
from ansim_bench.intake_bench import _run_async
from ansim_bench.load_client import HttpConnection
from ansim_bench.scale_report import HeartbeatRun, Latency
from ansim_bench.scale_server import HEARTBEAT_CONNECTIONS, cpu_ms_per, cpu_s, serving
from ansim_bench.scale_world import Population

PATH = "/api/v1/terminals/messages"


def signed_heartbeat(population: Population, j: int, seq: int) -> bytes:
    """Terminal `j`'s signed heartbeat number `seq`, as the device sends it."""
    message = {
        "v": protocol.PROTOCOL_VERSION,
        "type": "heartbeat",
        "terminal_id": population.terminal_id(j),
        "seq": seq,
        "sent_at": datetime.now(UTC).isoformat(),
        "battery_pct": 40 + j % 60,
        "signal_dbm": -70 - j % 40,
        "config_version": 1,
    }
    return json.dumps(protocol.sign(message, secret=population.terminal_secret(j))).encode()


async def heartbeats_over_http(
    base: str,
    population: Population,
    seconds: float,
    seq: dict[int, int] | None = None,
    connections: int = HEARTBEAT_CONNECTIONS,
) -> tuple[HeartbeatRun, dict[int, int]]:
    """`connections` closed-loop clients, each the network of a share of the terminals in turn.

    `seq` is the last sequence number each terminal sent (default: as populated). Returns the run
    and the sequence numbers after it (those of accepted heartbeats).
    """
    seq = dict(seq) if seq else {j: population.seeded_seq(j) for j in range(population.terminals)}
    timings: list[float] = []
    accepted = 0
    sent = 0
    limit = int(seconds * 50_000)  # bounded in count as well as in time
    deadline = time.perf_counter() + seconds

    async def worker(w: int) -> None:
        nonlocal accepted, sent
        mine = range(w, population.terminals, connections)
        connection = await HttpConnection.open(base)
        turn = 0
        try:
            while time.perf_counter() < deadline and sent < limit and mine:
                j = mine[turn % len(mine)]
                turn += 1
                body = signed_heartbeat(population, j, seq[j] + 1)
                sent += 1
                started = time.perf_counter()
                status, answer = await connection.request("POST", PATH, body)
                timings.append(time.perf_counter() - started)
                if status == 200 and json.loads(answer)["replies"][0]["status"] == "accepted":
                    accepted += 1
                    seq[j] += 1
        finally:
            await connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(connections)))
    elapsed = time.perf_counter() - started
    run = HeartbeatRun(sent, accepted, accepted / elapsed, Latency.of(timings, accepted))
    return run, seq


def check_heard(
    url: str, population: Population, run: HeartbeatRun, seq: dict[int, int]
) -> HeartbeatRun:
    """Compares every terminal's stored sequence with what was sent; counts its deadlines."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            stored = dict(
                conn.execute(sa.select(terminals_table.c.id, terminals_table.c.last_seq)).all()
            )
            heartbeat = deadlines.c.kind == terminals.HEARTBEAT_KIND
            pending = conn.execute(
                sa.select(sa.func.count())
                .select_from(deadlines)
                .where(
                    heartbeat, deadlines.c.fired_at.is_(None), deadlines.c.cancelled_at.is_(None)
                )
            ).scalar_one()
            rows = conn.execute(
                sa.select(sa.func.count()).select_from(deadlines).where(heartbeat)
            ).scalar_one()
    finally:
        engine.dispose()
    mismatched = sum(stored.get(population.terminal_id(j)) != s for j, s in seq.items())
    return replace(
        run,
        mismatched_terminals=mismatched,
        pending_deadlines=int(pending),
        deadline_rows=int(rows),
    )


def over_mqtt(
    url: str, population: Population, seconds: float, seq: dict[int, int]
) -> HeartbeatRun:
    """The heartbeat run again over MQTT, on a private broker, continuing the sequence numbers."""
    from ansim_bench import mqtt_heartbeats

    seq = dict(seq)
    with (
        mqtt_heartbeats.private_broker() as broker,
        serving(url, bare=False, mqtt_url=broker) as server,
    ):
        _run_async(mqtt_heartbeats.wait_for_bridge(broker, population, seq))
        cpu = cpu_s(server.pid)
        sent, accepted, timings, elapsed = _run_async(
            mqtt_heartbeats.heartbeats(broker, population, seconds, seq)
        )
        cpu_ms = cpu_ms_per(server.pid, cpu, sent)
    run = HeartbeatRun(
        sent, accepted, accepted / elapsed, Latency.of(timings, accepted), server_cpu_ms=cpu_ms
    )
    return check_heard(url, population, run, seq)
