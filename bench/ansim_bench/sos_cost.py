"""Cost of one SOS in-process: SQL statements and CPU ms through `do_receive_sos` with auto-dispatch.

On PostgreSQL also the server's CPU: its backends serving the scratch database (a local server,
read from /proc), so work moved into or out of the server (parsing, planning) shows.

Wall-clock rates on a shared box swing 2-3x between runs of the same code; statements and CPU
seconds (`process_time`) do not, so a change to the SOS path is judged by these. Compare two
checkouts in the same minutes by pointing PYTHONPATH at each one's src/ in turn:

    PYTHONPATH=src:bench python -m ansim_bench.sos_cost sqlite 30 [--shapes] [--profile FILE]

With --relay the outbox relay publishes each SOS's events after it, as a server's relay woken by
the commit does, on the same connection pool: its read session and its marking count too.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import cProfile
import json
import os
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

from ansim.api.app import create_app
from ansim.bus.memory import InProcessBus
from ansim.bus.relay import OutboxRelay
from ansim.domain.fixes import FixMethod, LocationFix
from ansim.domain.incidents import Channel
from ansim.services.demo_world import seed
from ansim.services.handlers import do_receive_sos
from ansim.services.incidents import SosReport
from ansim.settings import Settings
from ansim.store.db import make_engine, make_session_factory
from ansim.store.uow import UnitOfWork
from ansim_bench.bench_db import POSTGRES_ADMIN_URL, demo_keys, scratch_database


def measure(backend: str, count: int, *, profile: str = "", relay: bool = False) -> dict[str, Any]:
    demo_keys()
    with scratch_database(backend) as url:
        engine = make_engine(url)
        world = seed(
            UnitOfWork(make_session_factory(engine)), at=datetime.now(UTC), pupils=count + 10
        )
        engine.dispose()
        platform = create_app(
            Settings(database_url=url, demo=True, merge_window_s=0)
        ).state.context.platform
        ids = [pupil.id for pupil, _, _ in world.subscribers]
        # One relay, so no lease; no backstop sealing either (each SOS seals its own audit entries).
        relay_loop = asyncio.new_event_loop() if relay else None
        outbox_relay = OutboxRelay(platform.uow, InProcessBus())
        shapes: collections.Counter[str] = collections.Counter()

        def on_execute(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
            shapes[" ".join(statement.split()[:4])[:70]] += 1

        def sos(i: int) -> None:
            now = datetime.now(UTC)
            fix = LocationFix.with_confidence(
                lat=37.5665 + i * 1e-4,
                lon=126.978,
                radius_m=20,
                confidence=0.68,
                method=FixMethod("gnss"),
                observed_at=now,
                source="app:bench",
            )
            do_receive_sos(
                platform,
                report=SosReport(
                    channel=Channel.APP,
                    received_at=now,
                    source=f"app:bench{i}",
                    subscriber_id=ids[i],
                    fix=fix,
                    idempotency_scope=f"app:bench{i}",
                    idempotency_key=uuid.uuid4().hex,
                ),
            )
            if relay_loop is not None:
                relay_loop.run_until_complete(outbox_relay.publish_pending())

        sos(count + 1)  # warm-up: the graph's caches, the first connection, compiled statements
        sos(count + 2)
        # Sampled outside the statement count: the samples' own queries are not the SOS's.
        server = _ServerCpu(url) if backend == "postgres" else None
        before = server.sample() if server else {}
        event.listen(sa.engine.Engine, "before_cursor_execute", on_execute)
        profiler = cProfile.Profile()
        try:
            if profile:
                profiler.enable()
            cpu, wall = time.process_time(), time.perf_counter()
            for i in range(count):
                sos(i)
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        finally:
            profiler.disable()
            event.remove(sa.engine.Engine, "before_cursor_execute", on_execute)
        server_cpu = server.since(before) if server else None
        if server:
            server.close()
        if relay_loop is not None:
            relay_loop.close()
        if profile:
            profiler.dump_stats(profile)
        return {
            "backend": backend,
            "sos": count,
            "relay": relay,
            "statements_per_sos": round(sum(shapes.values()) / count, 1),
            "cpu_ms_per_sos": round(cpu / count * 1000, 2),
            "wall_ms_per_sos": round(wall / count * 1000, 2),
            **(
                {"server_cpu_ms_per_sos": round(server_cpu / count * 1000, 2)}
                if server_cpu is not None
                else {}
            ),
            "shapes": {k: round(v / count, 1) for k, v in shapes.most_common()},
        }


class _ServerCpu:
    """CPU seconds of the local PostgreSQL backends connected to one database (from /proc)."""

    def __init__(self, url: str) -> None:
        self._database = sa.make_url(url).database
        self._admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
        self._tick = os.sysconf("SC_CLK_TCK")

    def sample(self) -> dict[int, float]:
        with self._admin.connect() as conn:
            pids = conn.execute(
                sa.text("SELECT pid FROM pg_stat_activity WHERE datname = :name"),
                {"name": self._database},
            ).scalars()
            found: dict[int, float] = {}
            for pid in pids:
                try:
                    with open(f"/proc/{pid}/stat") as stat:
                        fields = stat.read().rpartition(")")[2].split()
                except OSError:
                    continue  # a backend that ended meanwhile
                found[pid] = (int(fields[11]) + int(fields[12])) / self._tick
            return found

    def since(self, before: dict[int, float]) -> float:
        """CPU seconds since `before`: backends opened meanwhile count from zero."""
        after = self.sample()
        return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())

    def close(self) -> None:
        self._admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("backend", choices=["sqlite", "postgres"])
    parser.add_argument("count", type=int, nargs="?", default=30)
    parser.add_argument("--shapes", action="store_true", help="statements per SOS by shape")
    parser.add_argument("--profile", default="", help="write a cProfile of the measured SOSs here")
    parser.add_argument(
        "--relay", action="store_true", help="the outbox relay publishes after each SOS"
    )
    args = parser.parse_args()
    result = measure(args.backend, args.count, profile=args.profile, relay=args.relay)
    shapes = result.pop("shapes")
    print(json.dumps(result))
    if args.shapes:
        for shape, per_sos in shapes.items():
            print(f"{per_sos:5.1f}  {shape}")


if __name__ == "__main__":
    main()
