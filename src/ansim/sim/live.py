"""The live demo: the simulation in real time against the served app, on the app's store and clock.

One clock: the app is built with `clock=sim.now`, so everything the board, the scheduler and the
notifier stamp is simulation time, at any speed. One owner per background job: the app's loops fire
the durable deadlines and send the queued messages; the simulation only plays the people (reporters,
crews, guardians, a dispatcher). One unit of work: the simulation commits through the app's, whose
after-commit hooks wake the outbox relay, so every change reaches the board's WebSocket at once.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from sqlalchemy.engine import Engine

from ansim.api.app import create_app
from ansim.api.context import AppContext
from ansim.domain.deliveries import DeliveryChannel
from ansim.notify.notifier import senders_from
from ansim.services.demo_world import DemoWorld
from ansim.settings import Settings
from ansim.sim.runner import Simulation
from ansim.sim.scenario import Arrivals, Fleet, Scenario, load_scenario

log = logging.getLogger(__name__)
DEFAULT_RATE = 60.0
DEFAULT_SPEED = 1.0


@dataclass(frozen=True)
class LiveDemo:
    app: FastAPI
    simulation: Simulation
    world: DemoWorld


def demo_scenario(
    *, rate: float | None = None, path: Path | None = None, start: datetime | None = None
) -> Scenario:
    """The demo's city (or the scenario at `path`), starting now, with `rate` drill SOS an hour."""
    if path is not None:
        base = load_scenario(path)
    else:
        base = Scenario(
            name="live_demo",
            description="drill SOS near real schools in central Seoul; every patrol car on duty",
            # Seed and pupils as the demo world has always had them: the same accounts and people.
            seed=112,
            start=datetime(2026, 3, 2, 8, tzinfo=UTC),
            duration_min=24 * 60,
            pupils=24,
            tick_s=2.0,
            # The first SOS a few seconds in, so a newcomer need not wait for the Poisson process.
            arrivals=Arrivals(per_hour=DEFAULT_RATE, first_at_s=5.0, mis_press_share=0.15),
            # Position reports often enough to watch the cars move; shorter stays on scene than a
            # real day, so the cars come back into play.
            fleet=Fleet(
                patrol_report_every_s=20.0,
                report_every_s=10.0,
                on_scene_false_min=3.0,
                on_scene_real_min=8.0,
                dispatcher_every_s=15.0,
            ),
        )
    now = (start or datetime.now(UTC)).astimezone(base.start.tzinfo)
    arrivals = base.arrivals
    if rate is not None:
        # Rate 0 is a quiet city: no SOS at all, not even the first one.
        first = arrivals.first_at_s if rate > 0 else None
        arrivals = arrivals.model_copy(update={"per_hour": rate, "first_at_s": first})
    return base.model_copy(update={"start": now, "arrivals": arrivals})


def live_demo(settings: Settings, engine: Engine, *, scenario: Scenario, speed: float) -> LiveDemo:
    """Builds the app on `engine` with the simulation wired in, and seeds the demo world through it."""
    simulation = Simulation(scenario, realtime_speed=speed)
    # The guardians' phones stand in for the SMS provider; every other channel is as configured.
    senders = {**senders_from(settings), DeliveryChannel.SMS: simulation.sms}
    app = create_app(
        settings,
        engine=engine,
        clock=simulation.now,
        senders=senders,
        extra_tasks=[running(simulation)],
    )
    context: AppContext = app.state.context
    simulation.connect(context.platform)
    world = simulation.setup()
    return LiveDemo(app=app, simulation=simulation, world=world)


def running(simulation: Simulation) -> Callable[[AppContext], Coroutine[Any, Any, None]]:
    """An app task that runs the simulation in its own thread and stops it with the server."""

    async def run(_context: AppContext) -> None:
        thread = threading.Thread(target=_run, args=(simulation,), name="simulation", daemon=True)
        thread.start()
        try:
            while thread.is_alive():
                await asyncio.sleep(0.2)
        finally:
            simulation.stop()
            await asyncio.to_thread(thread.join, 10.0)

    return run


def _run(simulation: Simulation) -> None:
    try:
        simulation.run_until_stopped()
    except Exception:  # the board keeps serving; the log says why the city went quiet
        log.exception("the live simulation stopped")
