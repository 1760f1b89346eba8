"""The simulation: SimPy processes that drive the real services in virtual or real time."""

from __future__ import annotations

import asyncio
import functools
import math
import threading
from collections.abc import Callable, Generator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import simpy
import simpy.rt
from sqlalchemy import event
from sqlalchemy.engine import Engine

from ansim.bus.scheduler import DeadlineScheduler
from ansim.domain.errors import DomainError
from ansim.domain.incidents import IncidentStatus
from ansim.domain.units import AssignmentState, UnitStatus
from ansim.domain.verification import DispatcherDecision
from ansim.geo.demo_data import load_road_graph
from ansim.geo.geodesy import haversine_m
from ansim.notify.notifier import Notifier
from ansim.services import dispatch, incidents, people, verification
from ansim.services.demo_world import DemoWorld, do_seed_demo_world
from ansim.services.incident_commands import do_dispatch_unit
from ansim.services.platform import Platform
from ansim.services.ranking import StraightLineRanker, UnitRanker
from ansim.services.unit_commands import do_change_unit_status
from ansim.services.verification_commands import do_decide_verification
from ansim.sim import agents
from ansim.sim.city import City
from ansim.sim.phones import SimulatedSmsProvider
from ansim.sim.records import CaseRecord, SimLog
from ansim.sim.scenario import Scenario
from ansim.sim.wiring import own_notifier, own_platform, own_scheduler
from ansim.store.uow import UnitOfWork

SIM_DISPATCHER = "sim-dispatcher"
# Served in real time, the run looks for a stop request this often (wall seconds).
STOP_CHECK_S = 0.25
Step = Generator[simpy.Event, Any, None]


def throwaway_sqlite(engine: Engine) -> Engine:
    """A simulation's own SQLite file needs no power-cut durability: skip the fsync per commit."""
    if engine.dialect.name == "sqlite":

        def relax(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.execute("PRAGMA synchronous=OFF")

        event.listen(engine, "connect", relax)
    return engine


class Simulation:
    """One run of a scenario: against a fresh database of its own, or against a served app's."""

    def __init__(
        self,
        scenario: Scenario,
        engine: Engine | None = None,
        *,
        realtime_speed: float | None = None,
        ranker: UnitRanker | None = None,
    ) -> None:
        """With `engine`, the run has a platform of its own; without, `connect` one (the live demo)."""
        self.scenario = scenario
        self.start = scenario.start
        self.speed = realtime_speed
        if realtime_speed is None:
            self.env: simpy.Environment = simpy.Environment()
        else:
            # The same processes, paced by the wall clock; strict=False lets a slow step catch up.
            self.env = simpy.rt.RealtimeEnvironment(factor=1.0 / realtime_speed, strict=False)
        # Guardians' phones: the far side of the SMS channel, the only double in the loop.
        self.sms = SimulatedSmsProvider()
        self._platform: Platform | None = None
        # In virtual time nothing else runs, so the simulation fires the durable deadlines and sends
        # the queued messages itself. Served (the live demo), the app's own loops do: one owner each.
        self.scheduler: DeadlineScheduler | None = None
        self.notifier: Notifier | None = None
        if engine is not None:
            platform = own_platform(
                engine,
                clock=self.now,
                ranker=ranker or StraightLineRanker(),
                link_secret=f"sim-{scenario.seed}",
            )
            self.connect(
                platform,
                scheduler=own_scheduler(platform),
                notifier=own_notifier(platform, self.sms),
            )
        self.city = City(load_road_graph())
        streams = np.random.SeedSequence(scenario.seed).spawn(4)
        self.rng_arrivals, self.rng_units, self.rng_people, self.rng_fixes = (
            np.random.default_rng(s) for s in streams
        )
        self.log = SimLog()
        self.world: DemoWorld | None = None
        self.units: dict[str, agents.UnitAgent] = {}
        self._known_orders: set[str] = set()
        self.on_duty: list[str] = []
        # Which pupil each guardian's phone number belongs to: the guardian knows their own child.
        self.guardian_phones: dict[str, str] = {}
        self._stopping = threading.Event()

    def connect(
        self,
        platform: Platform,
        *,
        scheduler: DeadlineScheduler | None = None,
        notifier: Notifier | None = None,
    ) -> None:
        """Drives `platform`'s commands (the served app's, or one of its own with its own loops)."""
        self._platform = platform
        self.scheduler, self.notifier = scheduler, notifier

    @property
    def platform(self) -> Platform:
        if self._platform is None:
            raise RuntimeError("connect the simulation to a platform before running it")
        return self._platform

    @property
    def uow(self) -> UnitOfWork:
        return self.platform.uow

    @property
    def ranker(self) -> UnitRanker:
        return self.platform.ranker

    def now(self) -> datetime:
        """The one clock: the scenario start plus virtual seconds (the served app reads it too)."""
        return self.start + timedelta(seconds=float(self.env.now))

    def seconds_of(self, at: datetime) -> float:
        return (at - self.start).total_seconds()

    def setup(self) -> DemoWorld:
        """Seeds the demo world at the scenario start and puts the fleet on patrol."""
        self.world = world = do_seed_demo_world(
            self.platform, seed_value=self.scenario.seed, pupils=self.scenario.pupils
        )
        keep = self.scenario.fleet.units or len(world.units)
        for index, unit in enumerate(world.units):
            if index >= keep:
                do_change_unit_status(
                    self.platform, unit_id=unit.id, status=UnitStatus.OFF_DUTY, actor="sim"
                )
                continue
            home = next(s for s in world.stations if s.id == unit.station_id)
            agent = agents.UnitAgent(self, unit.id, unit.call_sign, (home.lat, home.lon))
            agent.position = (unit.lat or home.lat, unit.lon or home.lon)
            self.units[unit.id] = agent
            self.on_duty.append(unit.id)
        with self.uow.read() as session:
            for pupil, _school, _credential in world.subscribers:
                for guardian in people.guardians_of(session, subscriber_id=pupil.id):
                    self.guardian_phones[guardian.phone] = pupil.id
        for agent in self.units.values():
            agent.process = self.env.process(agent.run())
        self.env.process(self._arrivals())
        self.env.process(self._ticker())
        self.env.process(self._dispatcher())
        return world

    def run(self) -> SimLog:
        """Runs to the scenario's end; cases still open then are counted as they stand."""
        if self.world is None:
            self.setup()
        self._sync()
        self.env.run(until=self.scenario.duration_min * 60.0)
        return self.log

    def run_until_stopped(self) -> SimLog:
        """Runs in real time until `stop()` is called from another thread (the live demo)."""
        if self.speed is None:
            raise RuntimeError("only a real-time simulation runs until stopped")
        if self.world is None:
            self.setup()
        watch = self.env.process(self._watch_for_stop(self.speed))
        self._sync()
        self.env.run(until=watch)
        return self.log

    def stop(self) -> None:
        """Asks a run in real time to end; it does within a quarter of a second."""
        self._stopping.set()

    def _sync(self) -> None:
        # Real time starts now, not when the environment was made (seeding took a while).
        if isinstance(self.env, simpy.rt.RealtimeEnvironment):
            self.env.sync()

    def _watch_for_stop(self, speed: float) -> Step:
        while not self._stopping.is_set():
            yield self.env.timeout(STOP_CHECK_S * speed)

    def call(self, what: str, action: Callable[[], object]) -> bool:
        """Runs one command; a domain refusal is logged (the world moved on), not fatal."""
        try:
            action()
        except DomainError as error:
            self.log.errors.append(f"{what}: {type(error).__name__}: {error}")
            return False
        return True

    def rate_per_s(self, t: float) -> float:
        hour = (self.start + timedelta(seconds=t)).hour
        weight = self.scenario.arrivals.rhythm.get(hour, 1.0)
        return self.scenario.arrivals.per_hour * weight / 3600.0

    def _arrivals(self) -> Step:
        """A Poisson process with a daily rhythm, by thinning a process at the peak rate."""
        arrivals = self.scenario.arrivals
        if arrivals.first_at_s is not None:
            yield self.env.timeout(arrivals.first_at_s)
            self.env.process(agents.reporter(self))
        peak = arrivals.per_hour * max([1.0, *arrivals.rhythm.values()]) / 3600.0
        while peak > 0:
            yield self.env.timeout(float(self.rng_arrivals.exponential(1.0 / peak)))
            if self.rng_arrivals.uniform() * peak <= self.rate_per_s(float(self.env.now)):
                self.env.process(agents.reporter(self))

    def _ticker(self) -> Step:
        while True:
            yield self.env.timeout(self.scenario.tick_s)
            self.pump()

    def pump(self) -> None:
        """Between steps: due deadlines fire and queued messages leave (when the run owns that),
        phones receive what was sent to them, and crews get their new orders."""
        if self.scheduler is not None:
            self.scheduler.fire_due(self.now())
        if self.notifier is not None:
            # The notifier is async, and this thread's event loop may be taken (a browser test's).
            with ThreadPoolExecutor(1) as messenger:
                messenger.submit(asyncio.run, self.notifier.run_once(self.now())).result()
        for sms in self.sms.take():
            self.log.messages += 1
            self.env.process(agents.guardian(self, sms))
        self.deliver_orders()

    def _dispatcher(self) -> Step:
        """A dispatcher at the board: decides stand-down requests and re-orders incidents left
        without a unit (all were busy), through the services the board's commands call."""
        every = self.scenario.fleet.dispatcher_every_s
        while True:
            yield self.env.timeout(every)
            with self.uow.read() as session:
                active = sorted(
                    (i for i in incidents.list_recent(session, active_only=True) if i.drill),
                    key=lambda i: i.received_at,
                )
                asked = [
                    i.id
                    for i in active
                    if (found := verification.get(session, incident_id=i.id)) is not None
                    and found.stand_down_requested
                ]
                waiting = [
                    i.id
                    for i in active
                    if i.status not in {IncidentStatus.FALSE_ALARM, IncidentStatus.CANCELLED}
                    and i.id not in asked
                    and not dispatch.open_assignments(session, incident_id=i.id)
                ]
            for incident_id in asked:
                self._stand_down(incident_id)
            for incident_id in waiting:
                self.call("dispatcher order", functools.partial(self._order, incident_id))
            self.deliver_orders()

    def _order(self, incident_id: str) -> None:
        """The dispatcher orders the board's top recommendation, with the board's own command."""
        with self.uow.read() as session:
            incident = incidents.get(session, incident_id=incident_id)
            ranked = dispatch.rank_units(session, incident=incident, ranker=self.ranker)
        best = next((c for c in ranked if c.eta_s is not None), None)
        if best is not None:
            do_dispatch_unit(
                self.platform, incident_id=incident_id, unit_id=best.unit.id, actor=SIM_DISPATCHER
            )

    def _stand_down(self, incident_id: str) -> None:
        """A guardian said it was a mistake: the dispatcher stands the units down (they clear themselves)."""
        decide = functools.partial(
            do_decide_verification,
            self.platform,
            incident_id=incident_id,
            decision=DispatcherDecision.STAND_DOWN,
            reason="the guardian says it was a mistake",
            actor=SIM_DISPATCHER,
        )
        if not self.call("stand down", decide):
            return
        with self.uow.read() as session:
            left = dispatch.open_assignments(session, incident_id=incident_id)
        if not left:
            agents.close_case(self, incident_id, reason="mis-press, no unit on the way")

    def deliver_orders(self) -> None:
        """Hands each new order in the database to its unit's crew, as their terminal would.

        Simulated crews act on drills only; an order for a real incident is left to a person.
        """
        with self.uow.read() as session:
            fresh = [
                a
                for a in dispatch.open_assignments(session)
                if a.state == AssignmentState.ORDERED and a.id not in self._known_orders
            ]
            targets = {a.id: incidents.get(session, incident_id=a.incident_id) for a in fresh}
        for assignment in fresh:
            self._known_orders.add(assignment.id)
            case = self.log.case_of(assignment.incident_id)
            incident = targets[assignment.id]
            if not incident.drill:
                continue
            if case is not None and case.error_at_dispatch_m is None and incident.lat is not None:
                true_lat, true_lon = case.truth(self.seconds_of(assignment.ordered_at))
                case.error_at_dispatch_m = haversine_m(
                    incident.lat, incident.lon or 0.0, true_lat, true_lon
                )
            agent = self.units.get(assignment.unit_id)
            if agent is not None and agent.process is not None and agent.process.is_alive:
                agent.process.interrupt(("order", assignment.id, assignment.incident_id))

    def open_pupils(self) -> list[CaseRecord]:
        return [c for c in self.log.cases if not c.closed and c.subscriber_id]

    def lognormal(self, rng: np.random.Generator, median: float, spread: float) -> float:
        return float(median * math.exp(rng.normal(0.0, spread)))
