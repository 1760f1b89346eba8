"""The scale benchmark's server under load: its own process, its CPU and memory, and the
closed-loop ceiling of an endpoint that does no work (the stack's limit beside our figures)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from ansim_bench import child_environment
from ansim_bench.intake_bench import _free_port
from ansim_bench.load_client import HttpConnection

# Closed-loop clients of the ceilings (bare app, /healthz).
CONCURRENCY = 16
# Heartbeats in flight over HTTP. A city's terminals send on their own clocks (1,667/s from
# 100,000 at 60 s), not as 16 devices each waiting for its last answer: with the batcher's 5 ms
# window a closed loop of 16 caps the rate at 16 per (window + batch + commit), ~1,200/s however
# fast the server. 128 connections, each a share of the fleet with one heartbeat in flight.
HEARTBEAT_CONNECTIONS = 128


@dataclass(frozen=True)
class Server:
    base: str
    pid: int


@contextmanager
def serving(url: str, *, bare: bool, mqtt_url: str | None = None) -> Iterator[Server]:
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
        yield Server(base, process.pid)
    finally:
        process.terminate()
        process.wait(timeout=30)


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of process `pid` so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_ms_per(pid: int, before_s: float, count: int) -> float:
    return (cpu_s(pid) - before_s) / max(1, count) * 1000.0


def rss_mb(pid: int) -> tuple[float, float]:
    """Resident and peak resident memory of process `pid` (Linux /proc), in MiB."""
    status = Path(f"/proc/{pid}/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


async def ceiling(base: str, method: str, path: str, body: bytes, seconds: float) -> float:
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
