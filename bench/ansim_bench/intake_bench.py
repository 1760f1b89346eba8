"""Intake benchmark: SOS/s and POST → board WebSocket latency, beside the bare framework's ceiling."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
import numpy as np
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from ansim.api.app_signing import app_signed_headers
from ansim.services.demo_world import DEMO_PASSWORD, seed
from ansim.store.db import make_engine, make_session_factory
from ansim.store.uow import UnitOfWork
from ansim_bench import child_environment, fix_bench
from ansim_bench.bench_db import demo_keys, scratch_database
from ansim_bench.load_client import HttpConnection

SOS_BODY = {
    "fix": {"lat": 37.5665, "lon": 126.978, "accuracy_m": 20, "confidence": 0.68, "method": "gnss"}
}
CONCURRENCY = 16
T = TypeVar("T")


@dataclass
class IntakeResult:
    backend: str
    offered_per_s: float
    achieved_per_s: float
    sent: int
    failed: int
    post_ms: dict[str, float]
    board_ms: dict[str, float]
    ceiling_per_s: float
    platform_max_per_s: float
    fixes_per_s: dict[int, float] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return self.platform_max_per_s / self.ceiling_per_s if self.ceiling_per_s else 0.0


# Seconds of SOS at the first offered rate before the measured ones (see run_backend).
WARM_UP_S = 3.0


def _percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"p50": float("nan"), "p99": float("nan")}
    data = np.array(values) * 1000.0
    return {
        "p50": round(float(np.percentile(data, 50)), 1),
        "p99": round(float(np.percentile(data, 99)), 1),
    }


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def serve(url: str, port: int, bare: bool, roles: str = "all", mqtt_url: str | None = None) -> None:
    """Runs in the server subprocess: the platform on `url`, or a trivial endpoint on the same stack."""
    import uvicorn
    from fastapi import FastAPI

    from ansim.api.app import create_app
    from ansim.bus.runtime import parse_roles
    from ansim.settings import Settings

    if bare:
        app = FastAPI()

        @app.post("/ping")
        async def ping() -> dict[str, bool]:
            return {"ok": True}

    else:
        # merge_window 0: every bench SOS opens its own incident, as distinct callers would.
        app = create_app(
            Settings(
                database_url=url,
                demo=True,
                merge_window_s=0,
                outbox_poll_s=0.05,
                mqtt_url=mqtt_url or "",
            ),
            roles=parse_roles(roles),
        )
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


@contextmanager
def _server(url: str, bare: bool, roles: str = "all") -> Iterator[str]:
    port = _free_port()
    code = f"from ansim_bench.intake_bench import serve; serve({url!r}, {port}, {bare}, {roles!r})"
    process = subprocess.Popen(  # noqa: S603 — our own interpreter and code
        [sys.executable, "-c", code], env=child_environment()
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                httpx.get(f"{base}/openapi.json", timeout=1.0)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def _signed(credential: str, path: str, body: bytes) -> dict[str, str]:
    """A pupil's app POST to `path` signed now, as the PWA signs it (no credential: unsigned)."""
    if not credential:
        return {}
    now = datetime.now(UTC)
    return app_signed_headers(credential, method="POST", target=path, body=body, at=now)


async def _closed_loop(
    base: str | list[str], path: str, people: list[str], seconds: float
) -> float:
    """Requests per second with CONCURRENCY clients each sending as soon as the last answer came.

    With several bases (API processes) the clients are spread over them, as a balancer would.
    """
    bases = [base] if isinstance(base, str) else base
    done = 0
    deadline = time.perf_counter() + seconds
    body = json.dumps(SOS_BODY).encode()

    async def worker(n: int) -> None:
        nonlocal done
        connection = await HttpConnection.open(bases[n % len(bases)])
        try:
            while time.perf_counter() < deadline:
                extra = {"Idempotency-Key": f"max-{n}-{uuid.uuid4().hex}"} if "sos" in path else {}
                headers = {**_signed(people[n % len(people)], path, body), **extra}
                status, _ = await connection.request("POST", path, body, headers)
                done += status < 300
        finally:
            await connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker(n) for n in range(CONCURRENCY)))
    return done / (time.perf_counter() - started)


async def _offered(
    base: str, people: list[str], token: str, rate: float, seconds: float
) -> tuple[float, int, int, list[float], list[float]]:
    """Sends SOS at a fixed rate (open loop) and times each one to its event on the board WebSocket."""
    seen: dict[str, float] = {}
    ws_url = base.replace("http", "ws") + "/api/v1/stream"
    async with connect(ws_url, additional_headers={"Authorization": f"Bearer {token}"}) as board:

        async def listen() -> None:
            with contextlib.suppress(ConnectionClosed):
                async for message in board:
                    event = json.loads(message)
                    if event.get("type") == "incident.received":
                        seen.setdefault(event["incident_id"], time.perf_counter())

        listener = asyncio.create_task(listen())
        sent_at: dict[int, float] = {}
        answers: dict[int, tuple[str, float]] = {}
        failed = 0
        body = json.dumps(SOS_BODY).encode()
        # An open loop needs a connection free whenever a send is due: a pool, grown on demand.
        pool: asyncio.Queue[HttpConnection] = asyncio.Queue()

        async def one(n: int) -> None:
            nonlocal failed
            sent_at[n] = time.perf_counter()
            headers = {
                **_signed(people[n % len(people)], "/api/v1/app/sos", body),
                "Idempotency-Key": f"b-{n}-{uuid.uuid4().hex}",
            }
            connection = pool.get_nowait() if not pool.empty() else None
            try:
                connection = connection or await HttpConnection.open(base)
                status, answer = await asyncio.wait_for(
                    connection.request("POST", "/api/v1/app/sos", body, headers), timeout=60
                )
            except (OSError, TimeoutError, asyncio.IncompleteReadError):
                failed += 1  # timed out or dropped: counted, never hidden
                if connection is not None:  # half-read: never reused, closed
                    with contextlib.suppress(OSError):
                        await connection.close()
                return
            pool.put_nowait(connection)
            if status >= 300:
                failed += 1
                return
            answers[n] = (json.loads(answer)["incident_id"], time.perf_counter())

        total = max(1, int(rate * seconds))
        start = time.perf_counter()
        tasks = []
        for n in range(total):
            await asyncio.sleep(max(0.0, start + n / rate - time.perf_counter()))
            tasks.append(asyncio.create_task(one(n)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
        while not pool.empty():
            await pool.get_nowait().close()
        for _ in range(100):  # let the last events reach the board
            if all(i in seen for i, _ in answers.values()):
                break
            await asyncio.sleep(0.05)
        listener.cancel()
    post = [at - sent_at[n] for n, (_, at) in answers.items()]
    board_lat = [seen[i] - sent_at[n] for n, (i, _) in answers.items() if i in seen]
    return len(answers) / elapsed, total, failed, post, board_lat


def _run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """Runs `coroutine` on a fresh loop in its own thread (the caller's thread may own a loop already)."""
    with ThreadPoolExecutor(max_workers=1) as worker:
        return worker.submit(asyncio.run, coroutine).result()


def _seed(url: str) -> tuple[list[str], str]:
    """The demo world with a pupil per client: SOS of distinct people (one person's presses take
    turns on the person lock, as they must, and would measure that instead)."""
    engine = make_engine(url)
    world = seed(UnitOfWork(make_session_factory(engine)), at=datetime.now(UTC), pupils=CONCURRENCY)
    engine.dispose()
    return [s[2] for s in world.subscribers], "dispatcher"


def run_backend(
    backend: str, *, rates: tuple[float, ...], seconds: float, fixes: int
) -> list[IntakeResult]:
    """Measures one backend: ceiling, platform maximum, fixed offered load, fix ingestion."""
    demo_keys()
    with scratch_database(backend) as url:
        people, staff = _seed(url)
        with _server(url, bare=True) as base:
            ceiling = _run_async(_closed_loop(base, "/ping", [""], seconds))
        with _server(url, bare=False) as base:
            token = httpx.post(
                f"{base}/api/v1/session", json={"username": staff, "password": DEMO_PASSWORD}
            ).json()["token"]
            # Steady state is measured: a server's first seconds compile its SQL and open its
            # pool's connections (PostgreSQL: POST p50 ~150 ms in the first 3 s after a start,
            # ~25 ms after; docs/benchmarks.md). Those seconds are sent, not timed.
            _run_async(_offered(base, people, token, rates[0], min(seconds, WARM_UP_S)))
            offered = [
                (rate, _run_async(_offered(base, people, token, rate, seconds))) for rate in rates
            ]
            maximum = _run_async(_closed_loop(base, "/api/v1/app/sos", people, seconds))
        fix_rates = {
            batch: round(fix_bench.fix_rate(url, batch, fixes).per_s, 0)
            for batch in fix_bench.BATCHES
        }
    return [
        IntakeResult(
            backend,
            rate,
            round(achieved, 1),
            sent,
            failed,
            _percentiles(post),
            _percentiles(board),
            round(ceiling, 1),
            round(maximum, 1),
            fix_rates,
        )
        for rate, (achieved, sent, failed, post, board) in offered
    ]


def format_table(results: list[IntakeResult]) -> str:
    lines = [
        "| backend | offered SOS/s | achieved SOS/s | failed | POST p50/p99 ms | POST→board p50/p99 ms "
        "| platform max SOS/s | bare FastAPI ceiling req/s | ratio | fixes/s (1 / 50 / 100 per tx) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.backend} | {r.offered_per_s:g} | {r.achieved_per_s} | {r.failed}/{r.sent} | "
            f"{r.post_ms['p50']}/{r.post_ms['p99']} | {r.board_ms['p50']}/{r.board_ms['p99']} | "
            f"{r.platform_max_per_s} | {r.ceiling_per_s} | {r.ratio:.2f} | "
            f"{' / '.join(f'{r.fixes_per_s.get(b, 0):g}' for b in fix_bench.BATCHES)} |"
        )
    return "\n".join(lines)


def run(*, smoke: bool, backends: tuple[str, ...] = ("sqlite", "postgres")) -> list[IntakeResult]:
    """Smoke: a second at 20 SOS/s. Full: 20 and the target 200 SOS/s offered for 3 s each."""
    rates, seconds, fixes = ((20.0,), 1.0, 200) if smoke else ((20.0, 200.0), 3.0, 1000)
    return [r for b in backends for r in run_backend(b, rates=rates, seconds=seconds, fixes=fixes)]
