"""Scale benchmark: a million registered people and 100,000 terminals heartbeating every minute.

Per backend it measures, on a freshly populated database and a real server in its own process:
the lookup of a caller by phone number (in-process through `people.binding`, and end to end as
the carrier's one-touch SOS), beside the same on a small database (the ratio shows the index
works); the heartbeats per second the server sustains, beside the bare framework's ceiling on
the same stack and the rate 100,000 terminals need; and the server's memory.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
import sqlalchemy as sa

from ansim.domain.incidents import Channel
from ansim.intake import terminal_protocol as protocol
from ansim.security import crypto, secrets
from ansim.security.signing import carrier_headers
from ansim.services import carriers, people, terminals
from ansim.services.demo_world import seed
from ansim.settings import Settings
from ansim.store.db import make_engine, make_session_factory
from ansim.store.tables import deadlines, incidents
from ansim.store.tables import terminals as terminals_table
from ansim.store.uow import UnitOfWork
from ansim_bench import child_environment
from ansim_bench.bench_db import scratch_database
from ansim_bench.intake_bench import _free_port, _run_async
from ansim_bench.load_client import HttpConnection
from ansim_bench.scale_world import (
    INTERVAL_S,
    Population,
    PopulationTiming,
    check_sample,
    database_mb,
    populate,
)

CONCURRENCY = 16
CARRIER_ID = "scale-carrier"
PATH = "/api/v1/terminals/messages"


@dataclass(frozen=True)
class Sizes:
    subscribers: int
    terminals: int
    small_subscribers: int
    lookups: int
    calls: int
    heartbeat_s: float
    ceiling_s: float


FULL = Sizes(1_000_000, 100_000, 1_000, lookups=2_000, calls=200, heartbeat_s=30.0, ceiling_s=10.0)
SMOKE = Sizes(2_000, 200, 100, lookups=100, calls=10, heartbeat_s=1.0, ceiling_s=1.0)


@dataclass(frozen=True)
class Latency:
    """Timed requests; `right` counts those that found the right person (or were accepted)."""

    count: int
    right: int
    p50_ms: float
    p99_ms: float

    @classmethod
    def of(cls, seconds: list[float], right: int) -> Latency:
        if not seconds:
            return cls(0, right, float("nan"), float("nan"))
        ms = np.array(seconds) * 1000.0
        return cls(len(seconds), right, float(np.percentile(ms, 50)), float(np.percentile(ms, 99)))


@dataclass(frozen=True)
class HeartbeatRun:
    sent: int
    accepted: int
    per_s: float
    latency: Latency
    # CPU seconds the server process spent per heartbeat sent (user + system, /proc): the
    # deterministic figure on a shared machine, where wall-clock rates swing with the neighbours.
    server_cpu_ms: float = float("nan")
    # Filled in after the run from the database: terminals whose last_seq is not what was sent.
    mismatched_terminals: int = 0
    pending_deadlines: int = 0
    deadline_rows: int = 0


@dataclass
class ScaleResult:
    backend: str
    population: Population
    small: Population
    timing: PopulationTiming
    url: str
    database_mb: float
    lookup: dict[str, Latency]
    carrier: dict[str, Latency]
    heartbeat: HeartbeatRun
    # The same fleet over MQTT (a private mosquitto; the bridge feeds the batcher in bulk).
    mqtt: HeartbeatRun | None
    # Closed-loop req/s of endpoints that do no work: a bare FastAPI app, and the platform's
    # /healthz (every middleware, the route table and the access check, no database).
    bare_per_s: float
    healthz_per_s: float
    rss_mb: dict[str, float]

    @property
    def needed_per_s(self) -> float:
        return self.population.terminals / INTERVAL_S


@dataclass(frozen=True)
class _Server:
    base: str
    pid: int


@contextmanager
def _serving(url: str, *, bare: bool, mqtt_url: str | None = None) -> Iterator[_Server]:
    """The intake benchmark's server (`intake_bench.serve`) in its own process on `url`."""
    port = _free_port()
    code = (
        "from ansim_bench.intake_bench import serve; "
        f"serve({url!r}, {port}, {bare}, 'all', {mqtt_url!r})"
    )
    process = subprocess.Popen(  # noqa: S603 — our own interpreter and code
        [sys.executable, "-c", code], env=child_environment()
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(1200):
            if process.poll() is not None:
                raise RuntimeError(f"the benchmark server exited with {process.returncode}")
            try:
                httpx.get(f"{base}/openapi.json", timeout=1.0)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        yield _Server(base, process.pid)
    finally:
        process.terminate()
        process.wait(timeout=30)


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of process `pid` so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mb(pid: int) -> tuple[float, float]:
    """Resident and peak resident memory of process `pid` (Linux /proc), in MiB."""
    status = Path(f"/proc/{pid}/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def _seed(url: str, at: datetime) -> str:
    """The demo world's stations, units and staff, and the carrier; returns the carrier's secret."""
    uow = UnitOfWork(make_session_factory(engine := make_engine(url)))
    try:
        seed(uow, at=at, pupils=0)
        with uow.begin() as session:
            return carriers.register(session, carrier_id=CARRIER_ID, name="Scale carrier", at=at)
    finally:
        engine.dispose()


def _service_lookups(url: str, population: Population, count: int, rng: random.Random) -> Latency:
    """`people.binding` by phone number, one read session each, as the carrier gateway does."""
    uow = UnitOfWork(make_session_factory(engine := make_engine(url)))
    timings: list[float] = []
    right = 0
    try:
        for n in range(count + 20):
            i = rng.randrange(population.subscribers)
            started = time.perf_counter()
            with uow.read() as session:
                bound = people.binding(
                    session, channel=Channel.ONE_TOUCH, address=population.phone(i)
                )
            if n < 20:
                continue  # warm-up: the first connection and compiled statements
            timings.append(time.perf_counter() - started)
            right += bound is not None and bound.subscriber_id == population.subscriber_id(i)
    finally:
        engine.dispose()
    return Latency.of(timings, right)


async def _carrier_calls(
    base: str, population: Population, secret: str, count: int, rng: random.Random
) -> tuple[list[float], dict[str, int]]:
    """One-touch SOS from callers drawn among everyone registered, one at a time, end to end.

    Returns the latencies and, per incident opened, the index of the person who called.
    """
    timings: list[float] = []
    opened: dict[str, int] = {}
    connection = await HttpConnection.open(base)
    try:
        for _ in range(count):
            i = rng.randrange(population.subscribers)
            now = datetime.now(UTC)
            body = json.dumps(
                {
                    "call_id": f"scale-{uuid.uuid4().hex}",
                    "caller_number": population.local_phone(i),
                    "called_at": now.isoformat(),
                    "network_location": {
                        "lat": 37.5665 + rng.uniform(-0.02, 0.02),
                        "lon": 126.978 + rng.uniform(-0.02, 0.02),
                        "radius_m": 400,
                        "method": "cell",
                    },
                }
            ).encode()
            headers = carrier_headers(carrier_id=CARRIER_ID, secret=secret, body=body, at=now)
            started = time.perf_counter()
            status, answer = await connection.request("POST", "/api/v1/carrier/sos", body, headers)
            timings.append(time.perf_counter() - started)
            if status == 201:
                opened[json.loads(answer)["incident_id"]] = i
    finally:
        await connection.close()
    return timings, opened


def _callers_found(url: str, population: Population, opened: dict[str, int]) -> int:
    """How many of the incidents opened belong to the person whose number called."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            owners = dict(
                conn.execute(
                    sa.select(incidents.c.id, incidents.c.subscriber_id).where(
                        incidents.c.id.in_(list(opened))
                    )
                ).all()
            )
    finally:
        engine.dispose()
    return sum(owners.get(k) == population.subscriber_id(i) for k, i in opened.items())


def _carrier_latency(
    server: _Server, url: str, population: Population, secret: str, count: int, rng: random.Random
) -> Latency:
    timings, opened = _run_async(_carrier_calls(server.base, population, secret, count, rng))
    return Latency.of(timings, _callers_found(url, population, opened))


async def _ceiling(base: str, method: str, path: str, body: bytes, seconds: float) -> float:
    """Requests/s that CONCURRENCY closed-loop clients get from an endpoint that does no work."""
    done = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        connection = await HttpConnection.open(base)
        try:
            while time.perf_counter() < deadline and done < seconds * 50_000:
                status, _ = await connection.request(method, path, body)
                done += status == 200
        finally:
            await connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return done / (time.perf_counter() - started)


def _heartbeat(population: Population, j: int, seq: int) -> bytes:
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


async def _heartbeats(
    base: str,
    population: Population,
    seconds: float,
    seq: dict[int, int] | None = None,
) -> tuple[HeartbeatRun, dict[int, int]]:
    """CONCURRENCY closed-loop clients, each the network of a share of the terminals in turn.

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
        mine = range(w, population.terminals, CONCURRENCY)
        connection = await HttpConnection.open(base)
        turn = 0
        try:
            while time.perf_counter() < deadline and sent < limit and mine:
                j = mine[turn % len(mine)]
                turn += 1
                body = _heartbeat(population, j, seq[j] + 1)
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
    await asyncio.gather(*(worker(w) for w in range(CONCURRENCY)))
    elapsed = time.perf_counter() - started
    run = HeartbeatRun(sent, accepted, accepted / elapsed, Latency.of(timings, accepted))
    return run, seq


def _check_heard(
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


def _cpu_ms_per(pid: int, before_s: float, count: int) -> float:
    return (_cpu_s(pid) - before_s) / max(1, count) * 1000.0


def _over_mqtt(
    url: str, population: Population, seconds: float, seq: dict[int, int]
) -> HeartbeatRun:
    """The heartbeat run again over MQTT, on a private broker, continuing the sequence numbers."""
    from ansim_bench import mqtt_heartbeats

    seq = dict(seq)
    with (
        mqtt_heartbeats.private_broker() as broker,
        _serving(url, bare=False, mqtt_url=broker) as server,
    ):
        _run_async(mqtt_heartbeats.wait_for_bridge(broker, population, seq))
        cpu = _cpu_s(server.pid)
        sent, accepted, timings, elapsed = _run_async(
            mqtt_heartbeats.heartbeats(broker, population, seconds, seq)
        )
        cpu_ms = _cpu_ms_per(server.pid, cpu, sent)
    run = HeartbeatRun(
        sent, accepted, accepted / elapsed, Latency.of(timings, accepted), server_cpu_ms=cpu_ms
    )
    return _check_heard(url, population, run, seq)


def _measure(
    backend: str,
    urls: dict[str, str],
    populations: dict[str, Population],
    carrier_secret: dict[str, str],
    sizes: Sizes,
    timing: PopulationTiming,
    with_mqtt: bool = True,
) -> ScaleResult:
    rng = random.Random(9)
    big, seconds = populations["big"], sizes.heartbeat_s
    lookup = {
        size: _service_lookups(urls[size], populations[size], sizes.lookups, rng)
        for size in ("small", "big")
    }
    probe = _heartbeat(big, 0, big.seeded_seq(0) + 1)  # the same bytes, answered by nothing
    with _serving(urls["big"], bare=True) as server:
        bare = _run_async(_ceiling(server.base, "POST", "/ping", probe, sizes.ceiling_s))
    carrier: dict[str, Latency] = {}
    with _serving(urls["small"], bare=False) as server:
        carrier["small"] = _carrier_latency(
            server, urls["small"], populations["small"], carrier_secret["small"], sizes.calls, rng
        )
    with _serving(urls["big"], bare=False) as server:
        idle, _ = _rss_mb(server.pid)
        healthz = _run_async(_ceiling(server.base, "GET", "/healthz", b"", sizes.ceiling_s))
        carrier["big"] = _carrier_latency(
            server, urls["big"], big, carrier_secret["big"], sizes.calls, rng
        )
        cpu = _cpu_s(server.pid)
        heartbeat, seq = _run_async(_heartbeats(server.base, big, seconds))
        heartbeat = replace(heartbeat, server_cpu_ms=_cpu_ms_per(server.pid, cpu, heartbeat.sent))
        after, peak = _rss_mb(server.pid)
    heartbeat = _check_heard(urls["big"], big, heartbeat, seq)
    mqtt = _over_mqtt(urls["big"], big, seconds, seq) if with_mqtt else None
    return ScaleResult(
        backend=backend,
        population=big,
        small=populations["small"],
        timing=timing,
        url=urls["big"],
        database_mb=database_mb(urls["big"]),
        lookup=lookup,
        carrier=carrier,
        heartbeat=heartbeat,
        mqtt=mqtt,
        bare_per_s=bare,
        healthz_per_s=healthz,
        rss_mb={"idle": idle, "after": after, "peak": peak},
    )


def run(
    *,
    smoke: bool,
    backends: tuple[str, ...] = ("sqlite", "postgres"),
    sizes: Sizes | None = None,
) -> list[ScaleResult]:
    """Smoke: 2,000 people and 200 terminals, seconds long. Full: 1,000,000 and 100,000.

    `sizes` overrides both (e.g. the full fleet of terminals with fewer people, when the full
    population takes too long to write on a busy machine).
    """
    sizes = sizes or (SMOKE if smoke else FULL)
    # The key the server will use (demo mode: ANSIM_DATA_KEY if set, else the public demo key).
    crypto.install(secrets.keyring_for(Settings(demo=True)))
    populations = {
        "big": Population(sizes.subscribers, sizes.terminals),
        "small": Population(sizes.small_subscribers, max(1, sizes.small_subscribers // 10)),
    }
    at = datetime.now(UTC)
    with ExitStack() as stack:
        urls = {
            (backend, size): stack.enter_context(scratch_database(backend))
            for backend in backends
            for size in populations
        }
        carrier_secret = {key: _seed(url, at) for key, url in urls.items()}
        timing = {
            size: populate(
                population, [urls[backend, size] for backend in backends], at=datetime.now(UTC)
            )
            for size, population in populations.items()
        }
        for (_, size), url in urls.items():
            check_sample(populations[size], url)
        return [
            _measure(
                backend,
                {size: urls[backend, size] for size in populations},
                populations,
                {size: carrier_secret[backend, size] for size in populations},
                sizes,
                timing["big"],
            )
            for backend in backends
        ]


def _mqtt_in_flight() -> int:
    from ansim_bench import mqtt_heartbeats

    return mqtt_heartbeats.CONNECTIONS * mqtt_heartbeats.IN_FLIGHT_PER_CONNECTION


def _pair(latency: Latency, digits: int = 1) -> str:
    return f"{latency.p50_ms:.{digits}f} / {latency.p99_ms:.{digits}f}"


def format_table(results: list[ScaleResult]) -> str:
    """One column per backend; ratios compare figures of the same run."""
    rows: list[tuple[str, list[str]]] = []

    def row(name: str, values: list[str]) -> None:
        rows.append((name, values))

    big, small = results[0].population, results[0].small
    row(
        "registered people / terminals",
        [f"{r.population.subscribers:,} / {r.population.terminals:,}" for r in results],
    )
    row(
        "population: make + encrypt rows (s, shared)",
        [f"{r.timing.prepare_s:.0f}" for r in results],
    )
    row(
        "population: bulk insert + analyze (s)",
        [f"{r.timing.write_s[r.url]:.0f} + {r.timing.finish_s[r.url]:.0f}" for r in results],
    )
    row("database size (MiB)", [f"{r.database_mb:,.0f}" for r in results])
    for size, people_count in (("big", big.subscribers), ("small", small.subscribers)):
        row(
            f"caller lookup `people.binding`, {people_count:,} people: p50 / p99 ms",
            [_pair(r.lookup[size], 2) for r in results],
        )
    row(
        "lookup ratio big / small (p50)",
        [f"{r.lookup['big'].p50_ms / r.lookup['small'].p50_ms:.2f}" for r in results],
    )
    for size, people_count in (("big", big.subscribers), ("small", small.subscribers)):
        row(
            f"one-touch carrier SOS end to end, {people_count:,} people: p50 / p99 ms",
            [_pair(r.carrier[size]) for r in results],
        )
    row(
        "carrier SOS ratio big / small (p50)",
        [f"{r.carrier['big'].p50_ms / r.carrier['small'].p50_ms:.2f}" for r in results],
    )
    row(
        "right person found (lookups, carrier SOS)",
        [
            f"{r.lookup['big'].right + r.lookup['small'].right}/"
            f"{r.lookup['big'].count + r.lookup['small'].count}, "
            f"{r.carrier['big'].right + r.carrier['small'].right}/"
            f"{r.carrier['big'].count + r.carrier['small'].count}"
            for r in results
        ],
    )
    row(
        f"heartbeats/s sustained ({CONCURRENCY} closed-loop clients)",
        [f"{r.heartbeat.per_s:,.0f}" for r in results],
    )
    row("heartbeat p50 / p99 ms", [_pair(r.heartbeat.latency) for r in results])
    row(
        "heartbeats accepted / sent",
        [f"{r.heartbeat.accepted:,} / {r.heartbeat.sent:,}" for r in results],
    )
    row(
        "server CPU ms per heartbeat (HTTP)",
        [f"{r.heartbeat.server_cpu_ms:.2f}" for r in results],
    )
    mqtt = [r for r in results if r.mqtt is not None]
    if len(mqtt) == len(results):
        row(
            f"heartbeats/s sustained over MQTT (private broker, {_mqtt_in_flight()} in flight)",
            [f"{r.mqtt.per_s:,.0f}" for r in mqtt if r.mqtt],
        )
        row("MQTT heartbeat p50 / p99 ms", [_pair(r.mqtt.latency) for r in mqtt if r.mqtt])
        row(
            "MQTT heartbeats accepted / sent (stored: `last_seq` checked)",
            [
                f"{r.mqtt.accepted:,} / {r.mqtt.sent:,} ({r.mqtt.mismatched_terminals} mismatched)"
                for r in mqtt
                if r.mqtt
            ],
        )
        row(
            "server CPU ms per heartbeat (MQTT)",
            [f"{r.mqtt.server_cpu_ms:.2f}" for r in mqtt if r.mqtt],
        )
    row("needed heartbeats/s (terminals / 60 s)", [f"{r.needed_per_s:,.0f}" for r in results])
    row(
        "ratio sustained / needed",
        [f"{r.heartbeat.per_s / r.needed_per_s:.2f}" for r in results],
    )
    row("bare FastAPI ceiling req/s (same clients)", [f"{r.bare_per_s:,.0f}" for r in results])
    row("platform `GET /healthz` ceiling req/s", [f"{r.healthz_per_s:,.0f}" for r in results])
    row(
        "ratio heartbeats / bare ceiling, / healthz ceiling",
        [
            f"{r.heartbeat.per_s / r.bare_per_s:.3f}, {r.heartbeat.per_s / r.healthz_per_s:.3f}"
            for r in results
        ],
    )
    row(
        "heartbeat deadline rows after the run (pending)",
        [f"{r.heartbeat.deadline_rows:,} ({r.heartbeat.pending_deadlines:,})" for r in results],
    )
    row(
        "server RSS MiB: idle / after load (peak)",
        [
            f"{r.rss_mb['idle']:.0f} / {r.rss_mb['after']:.0f} ({r.rss_mb['peak']:.0f})"
            for r in results
        ],
    )
    lines = [
        "| | " + " | ".join(r.backend for r in results) + " |",
        "|---|" + "---|" * len(results),
    ]
    lines += [f"| {name} | " + " | ".join(values) + " |" for name, values in rows]
    return "\n".join(lines)
