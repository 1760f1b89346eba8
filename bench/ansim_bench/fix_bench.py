"""Fix ingestion benchmark: location fixes/s through the batch path, against the 2,000/s target.

Each run opens one drill incident and streams a walker's fixes into it through
`incidents.add_fixes`, `batch` fixes per transaction (the incident locked, one insert, one
estimate update, one `incident.located`, one commit), as the app's live-location upload and the
terminals' location messages do. The incident's history grows through the run, so a cost that
grew with it would show.
"""

from __future__ import annotations

import math
import os
import statistics
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from pydantic import SecretStr

from ansim.domain.dispatch_policy import DispatchPolicy
from ansim.domain.fixes import FixMethod, LocationFix
from ansim.domain.incidents import Channel
from ansim.services import incidents
from ansim.services.handlers import do_receive_sos
from ansim.services.incidents import SosReport
from ansim.services.platform import Platform
from ansim.services.ranking import StraightLineRanker
from ansim.services.verification_config import VerificationConfig
from ansim.settings import VerificationSettings
from ansim.store.db import make_engine, make_session_factory
from ansim.store.uow import UnitOfWork
from ansim_bench.bench_db import demo_keys, scratch_database

TARGET_PER_S = 2000.0  # issue 9: "fixes/s sustained (target ≥ 2,000/s with batching)"
BATCHES = (1, 50, 100)  # one at a time, a terminal's full message, the app's largest upload
CITY_HALL = (37.5665, 126.978)
M_PER_DEG_LAT = 111_195.0


def walker_fixes(count: int, *, until: datetime, seed: int = 1) -> list[LocationFix]:
    """A GNSS fix a second from someone walking east at 1.4 m/s, with 5 m of noise, ending at `until`."""
    rng = np.random.default_rng(seed)
    m_per_deg_lon = M_PER_DEG_LAT * math.cos(math.radians(CITY_HALL[0]))
    start = until - timedelta(seconds=count)
    noise = rng.normal(0.0, 5.0, size=(count, 2))
    return [
        LocationFix(
            lat=CITY_HALL[0] + float(noise[n, 1]) / M_PER_DEG_LAT,
            lon=CITY_HALL[1] + (1.4 * n + float(noise[n, 0])) / m_per_deg_lon,
            radius_m=12.0,
            method=FixMethod.GNSS,
            observed_at=start + timedelta(seconds=n),
            source="bench",
        )
        for n in range(count)
    ]


@dataclass(frozen=True)
class Throughput:
    per_s: float  # fixes stored per second of wall-clock time
    # CPU time of this process per fix: on a shared machine, what one free core would give
    # (1e6 / cpu_us fixes/s) for SQLite; PostgreSQL's own server work is not in it.
    cpu_us: float


def fix_rate(url: str, batch: int, total: int) -> Throughput:
    """Fixes stored through `incidents.add_fixes`, `batch` per transaction, per second."""
    engine = make_engine(url)
    uow = UnitOfWork(make_session_factory(engine))
    now = datetime.now(UTC)
    # An anonymous drill SOS, never dispatched: nobody is verified, no unit is ordered.
    platform = Platform(
        uow=uow,
        ranker=StraightLineRanker(),
        policy=DispatchPolicy(),
        verification=VerificationConfig.from_settings(
            VerificationSettings.model_construct(link_secret=SecretStr("fix bench, no links"))
        ),
        merge_window=timedelta(0),
        auto_dispatch=False,
        clock=lambda: now,
    )
    outcome = do_receive_sos(
        platform, report=SosReport(channel=Channel.APP, received_at=now, source="bench", drill=True)
    )
    outcome = do_receive_sos(
        platform,
        report=SosReport(channel=Channel.APP, received_at=now, source="bench", drill=True),
    )
    fixes = walker_fixes(total, until=now)
    started, cpu = time.perf_counter(), time.process_time()
    for first in range(0, total, batch):
        with uow.begin() as session:
            incident = incidents.get(session, incident_id=outcome.incident.id, for_update=True)
            incidents.add_fixes(
                session, incident=incident, fixes=fixes[first : first + batch], received_at=now
            )
    rate = total / (time.perf_counter() - started)
    cpu_us = (time.process_time() - cpu) / total * 1e6
    engine.dispose()
    return Throughput(rate, cpu_us)


@dataclass(frozen=True)
class FixRate:
    backend: str
    batch: int
    fixes: int
    runs: tuple[float, ...]
    cpu_us: tuple[float, ...]
    load: tuple[float, float, float]  # load average (1, 5, 15 min) when the runs ended

    @property
    def median(self) -> float:
        return statistics.median(self.runs)

    @property
    def one_core_per_s(self) -> float:
        """Fixes/s the bench process's CPU time per fix would allow on a core of its own."""
        return 1e6 / statistics.median(self.cpu_us)


def run(*, smoke: bool, backends: tuple[str, ...] = ("sqlite", "postgres")) -> list[FixRate]:
    """Each batch size `runs` times per backend, on a fresh incident each time."""
    demo_keys()
    runs = 1 if smoke else 3
    results = []
    for backend in backends:
        with scratch_database(backend) as url:
            for batch in BATCHES:
                # One per transaction is bound by the commit: fewer fixes tell as much.
                total = (20 if smoke else 300) if batch == 1 else (100 if smoke else 3000)
                measured = [fix_rate(url, batch, total) for _ in range(runs)]
                rates = tuple(round(m.per_s) for m in measured)
                cpu = tuple(round(m.cpu_us) for m in measured)
                results.append(FixRate(backend, batch, total, rates, cpu, os.getloadavg()))
    return results


def format_table(results: list[FixRate]) -> str:
    lines = [
        "| backend | fixes per tx | fixes per run | fixes/s (runs) | median fixes/s "
        "| median / 2,000 target | bench CPU µs per fix (runs) | fixes/s on a free core "
        "| load average 1/5/15 min |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.backend} | {r.batch} | {r.fixes} | {', '.join(f'{x:g}' for x in r.runs)} | "
            f"{r.median:g} | {r.median / TARGET_PER_S:.2f} | "
            f"{', '.join(f'{x:g}' for x in r.cpu_us)} | {r.one_core_per_s:.0f} | "
            f"{' / '.join(f'{x:.1f}' for x in r.load)} |"
        )
    return "\n".join(lines)
