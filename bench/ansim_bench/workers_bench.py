"""Scale-out benchmark on PostgreSQL: platform max SOS/s with 1 and 2 API processes, and lock waits.

The shape measured is the documented one (docs/operations.md): process 1 runs every role (API,
relay with its lease, scheduler, notifier), process 2 only the API role and follows the outbox
itself. The closed-loop clients are spread over the processes, as a balancer would spread them.
The clients run in a process of their own (in the benchmark's process they shared its GIL with
the sampler and, once, measured 2 processes slower than 1: issue 15). The servers' CPU seconds
per SOS (user + system, /proc) are printed beside the rate: on a shared machine the rate swings
with the neighbours, the CPU cost much less. While they run, a sampler reads `pg_stat_activity` every 20 ms: of the bench database's active
backends, the share waiting on a lock (`wait_event_type = 'Lock'`: row locks, advisory locks).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from ansim_bench import child_environment
from ansim_bench.bench_db import demo_keys, scratch_database
from ansim_bench.intake_bench import _closed_loop, _run_async, _seed, _server

_SAMPLE = sa.text(
    "SELECT count(*) FILTER (WHERE state = 'active'),"
    " count(*) FILTER (WHERE state = 'active' AND wait_event_type = 'Lock')"
    " FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
)


@dataclass(frozen=True)
class WorkersResult:
    processes: int
    platform_max_per_s: float
    ceiling_per_s: float
    active_samples: int
    lock_wait_samples: int
    # CPU ms the API processes spent per SOS served (all of them together).
    server_cpu_ms_per_sos: float = float("nan")

    @property
    def lock_wait_share(self) -> float:
        return self.lock_wait_samples / self.active_samples if self.active_samples else 0.0


class LockSampler:
    """Samples the bench database's backends in a thread of its own until stopped."""

    def __init__(self, url: str, *, every_s: float = 0.02) -> None:
        self._engine = sa.create_engine(url, pool_size=1)
        self._every_s = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.active = 0
        self.waiting = 0

    def _run(self) -> None:
        with self._engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            while not self._stop.is_set():
                active, waiting = connection.execute(_SAMPLE).one()
                self.active += int(active)
                self.waiting += int(waiting)
                time.sleep(self._every_s)

    @contextmanager
    def running(self) -> Iterator[LockSampler]:
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join(timeout=10)
            self._engine.dispose()


def run(*, smoke: bool, processes: tuple[int, ...] = (1, 2)) -> list[WorkersResult]:
    """PostgreSQL only: the bare ceiling once, then the platform max with each process count."""
    seconds = 1.0 if smoke else 5.0
    demo_keys()
    results: list[WorkersResult] = []
    ceiling = 0.0
    for count in processes:
        # A fresh database each: the same free fleet to dispatch from, the same empty tables.
        with scratch_database("postgres") as url, ExitStack() as stack:
            people, _staff = _seed(url)
            if not ceiling:
                with _server(url, bare=True) as base:
                    ceiling = _run_async(_closed_loop(base, "/ping", [""], seconds))
            bases = [
                stack.enter_context(_server(url, bare=False, roles="all" if n == 0 else "api"))
                for n in range(count)
            ]
            cpu = _servers_cpu_s()
            with LockSampler(url).running() as sampler:
                maximum = _client_in_own_process(bases, people, seconds)
            cpu_ms = (_servers_cpu_s() - cpu) * 1000 / max(1.0, maximum * seconds)
            results.append(
                WorkersResult(
                    count,
                    round(maximum, 1),
                    round(ceiling, 1),
                    sampler.active,
                    sampler.waiting,
                    round(cpu_ms, 1),
                )
            )
    return results


def _client_in_own_process(bases: list[str], people: list[str], seconds: float) -> float:
    """The closed loop of `intake_bench` in a child interpreter; its SOS/s."""
    code = "from ansim_bench.workers_bench import client_main; client_main()"
    answer = subprocess.run(  # noqa: S603 — our own interpreter and code
        [sys.executable, "-c", code],
        input=json.dumps({"bases": bases, "people": people, "seconds": seconds}),
        capture_output=True,
        text=True,
        env=child_environment(),
        check=True,
        timeout=seconds + 120,
    )
    return float(json.loads(answer.stdout.strip().splitlines()[-1])["per_s"])


def client_main() -> None:
    """The child's side: reads the run from stdin, prints `{"per_s": ...}`."""
    run = json.loads(sys.stdin.read())
    per_s = _run_async(_closed_loop(run["bases"], "/api/v1/app/sos", run["people"], run["seconds"]))
    print(json.dumps({"per_s": per_s}))


def _servers_cpu_s() -> float:
    """User + system CPU seconds of this process's live children (the servers), from /proc."""
    total = 0.0
    me = str(os.getpid())
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == me:
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def format_table(results: list[WorkersResult]) -> str:
    lines = [
        "| API processes | platform max SOS/s | bare FastAPI ceiling req/s (1 process) "
        "| server CPU ms per SOS | active backend samples | waiting on a lock | lock-wait share |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.processes} | {r.platform_max_per_s} | {r.ceiling_per_s} "
            f"| {r.server_cpu_ms_per_sos} | {r.active_samples} "
            f"| {r.lock_wait_samples} | {r.lock_wait_share:.1%} |"
        )
    return "\n".join(lines)
