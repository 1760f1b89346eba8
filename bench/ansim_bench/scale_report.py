"""The scale benchmark's figures and their table (one column per backend)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ansim_bench.scale_server import HEARTBEAT_CONNECTIONS
from ansim_bench.scale_world import INTERVAL_S, Population, PopulationTiming


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
        f"heartbeats/s sustained ({HEARTBEAT_CONNECTIONS} closed-loop connections)",
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
