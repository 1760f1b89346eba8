"""The scale benchmark's callers: the demo world and carrier on each database, and a caller
found by phone number among everyone registered, in-process and as the carrier's one-touch SOS."""

from __future__ import annotations

import json
import random
import time
import uuid
from datetime import UTC, datetime

import sqlalchemy as sa

from ansim.domain.incidents import Channel
from ansim.security.signing import carrier_headers
from ansim.services import carriers, people
from ansim.services.demo_world import seed
from ansim.store.db import make_engine, make_session_factory
from ansim.store.tables import incidents
from ansim.store.uow import UnitOfWork
from ansim_bench.intake_bench import _run_async
from ansim_bench.load_client import HttpConnection
from ansim_bench.scale_report import Latency
from ansim_bench.scale_server import Server
from ansim_bench.scale_world import Population

CARRIER_ID = "scale-carrier"


def seed_world(url: str, at: datetime) -> str:
    """The demo world's stations, units and staff, and the carrier; returns the carrier's secret."""
    uow = UnitOfWork(make_session_factory(engine := make_engine(url)))
    try:
        seed(uow, at=at, pupils=0)
        with uow.begin() as session:
            return carriers.register(session, carrier_id=CARRIER_ID, name="Scale carrier", at=at)
    finally:
        engine.dispose()


def service_lookups(url: str, population: Population, count: int, rng: random.Random) -> Latency:
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


async def carrier_calls(
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


def callers_found(url: str, population: Population, opened: dict[str, int]) -> int:
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


def carrier_latency(
    server: Server, url: str, population: Population, secret: str, count: int, rng: random.Random
) -> Latency:
    timings, opened = _run_async(carrier_calls(server.base, population, secret, count, rng))
    return Latency.of(timings, callers_found(url, population, opened))
