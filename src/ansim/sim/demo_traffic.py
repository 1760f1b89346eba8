"""A trickle of drill SOS near real schools, so a newcomer sees the board come alive."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

from starlette.concurrency import run_in_threadpool

from ansim.api.context import AppContext
from ansim.domain.fixes import FixMethod, LocationFix
from ansim.domain.incidents import Channel
from ansim.services.handlers import do_receive_sos
from ansim.services.incidents import SosReport
from ansim.sim.demo_seed import DemoWorld

log = logging.getLogger(__name__)
# Method mix and typical radii from the Korean smartwatch pilot and field studies (REFERENCE.md).
_METHODS = [
    (FixMethod.WIFI, 0.83, 74.0),
    (FixMethod.GNSS, 0.11, 8.0),
    (FixMethod.CELL, 0.06, 600.0),
]


def demo_traffic(
    world: DemoWorld, *, first_after_s: float = 2.0, every_s: float = 20.0, seed: int = 7
) -> Callable[[AppContext], Coroutine[Any, Any, None]]:
    """Returns a task factory for create_app(extra_tasks=...) that sends drill SOS at random intervals."""
    rng = random.Random(seed)

    async def run(context: AppContext) -> None:
        await asyncio.sleep(first_after_s)
        while True:
            pupil, school, _credential = rng.choice(world.subscribers)
            method, _share, median = rng.choices(_METHODS, weights=[m[1] for m in _METHODS])[0]
            error = rng.expovariate(1 / median)
            now = context.now()
            fix = LocationFix(
                lat=school.lat + rng.gauss(0, error) / 111_000,
                lon=school.lon + rng.gauss(0, error) / 88_000,
                radius_m=median * 2.4,
                method=method,
                observed_at=now - timedelta(seconds=rng.uniform(1, 15)),
                source="demo",
            )
            report = SosReport(
                channel=rng.choice(list(Channel)),
                received_at=now,
                source="demo",
                subscriber_id=pupil.id,
                fix=fix,
                drill=True,
            )
            try:
                await run_in_threadpool(
                    do_receive_sos,
                    context.uow,
                    report=report,
                    ranker=context.ranker,
                    merge_window=timedelta(seconds=context.settings.merge_window_s),
                    auto_dispatch=context.settings.auto_dispatch,
                    verify=context.verification,
                )
            except Exception:  # the demo goes on even if one SOS fails
                log.exception("demo SOS failed")
            await asyncio.sleep(rng.expovariate(1 / every_s))

    return run
