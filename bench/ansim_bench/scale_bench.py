"""Scale benchmark: a million registered people and 100,000 terminals heartbeating every minute.

Per backend it measures, on a freshly populated database and a real server in its own process:
the lookup of a caller by phone number (in-process through `people.binding`, and end to end as
the carrier's one-touch SOS), beside the same on a small database (the ratio shows the index
works); the heartbeats per second the server sustains, beside the bare framework's ceiling on
the same stack and the rate 100,000 terminals need; and the server's memory.
"""

from __future__ import annotations

import random
from contextlib import ExitStack
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from ansim.security import crypto, secrets
from ansim.settings import Settings
from ansim_bench.bench_db import scratch_database
from ansim_bench.intake_bench import _run_async
from ansim_bench.scale_callers import carrier_latency, seed_world, service_lookups
from ansim_bench.scale_heartbeats import (
    check_heard,
    heartbeats_over_http,
    over_mqtt,
    signed_heartbeat,
)
from ansim_bench.scale_report import Latency, ScaleResult, format_table
from ansim_bench.scale_server import ceiling, cpu_ms_per, cpu_s, rss_mb, serving
from ansim_bench.scale_world import (
    Population,
    PopulationTiming,
    check_sample,
    database_mb,
    populate,
)

# The CLI (`ansim bench scale`) and the tests call run and format_table from here.
__all__ = ["FULL", "SMOKE", "ScaleResult", "Sizes", "format_table", "run"]


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
        size: service_lookups(urls[size], populations[size], sizes.lookups, rng)
        for size in ("small", "big")
    }
    probe = signed_heartbeat(big, 0, big.seeded_seq(0) + 1)  # the same bytes, answered by nothing
    with serving(urls["big"], bare=True) as server:
        bare = _run_async(ceiling(server.base, "POST", "/ping", probe, sizes.ceiling_s))
    carrier: dict[str, Latency] = {}
    with serving(urls["small"], bare=False) as server:
        carrier["small"] = carrier_latency(
            server, urls["small"], populations["small"], carrier_secret["small"], sizes.calls, rng
        )
    with serving(urls["big"], bare=False) as server:
        idle, _ = rss_mb(server.pid)
        healthz = _run_async(ceiling(server.base, "GET", "/healthz", b"", sizes.ceiling_s))
        carrier["big"] = carrier_latency(
            server, urls["big"], big, carrier_secret["big"], sizes.calls, rng
        )
        cpu = cpu_s(server.pid)
        heartbeat, seq = _run_async(heartbeats_over_http(server.base, big, seconds))
        heartbeat = replace(heartbeat, server_cpu_ms=cpu_ms_per(server.pid, cpu, heartbeat.sent))
        after, peak = rss_mb(server.pid)
    heartbeat = check_heard(urls["big"], big, heartbeat, seq)
    mqtt = over_mqtt(urls["big"], big, seconds, seq) if with_mqtt else None
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
        carrier_secret = {key: seed_world(url, at) for key, url in urls.items()}
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
