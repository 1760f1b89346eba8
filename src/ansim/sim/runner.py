"""The simulation: SimPy processes that drive the real services in virtual or real time."""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
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
from ansim.geo.demo_data import load_road_graph
from ansim.geo.geodesy import haversine_m
from ansim.services import dispatch, incidents
from ansim.services.ranking import StraightLineRanker, UnitRanker
from ansim.services.timers import deadline_handlers
from ansim.sim import agents
from ansim.sim.city import City
from ansim.sim.demo_seed import DemoWorld, seed
from ansim.sim.records import CaseRecord, SimLog
from ansim.sim.scenario import Scenario
from ansim.store.db import make_session_factory
from ansim.store.uow import UnitOfWork

SIM_DISPATCHER = "sim-dispatcher"
Step = Generator[simpy.Event, Any, None]


def throwaway_sqlite(engine: Engine) -> Engine:
    """A simulation's own SQLite file needs no power-cut durability: skip the fsync per commit."""
    if engine.dialect.name == "sqlite":

        def relax(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.execute("PRAGMA synchronous=OFF")

        event.listen(engine, "connect", relax)
    return engine


class Simulation:
    """One run of a scenario against a fresh, migrated database."""

    def __init__(
        self,
        scenario: Scenario,
        engine: Engine,
        *,
        realtime_speed: float | None = None,
        ranker: UnitRanker | None = None,
    ) -> None:
        self.scenario = scenario
        self.start = scenario.start
        if realtime_speed is None:
            self.env: simpy.Environment = simpy.Environment()
        else:
            # The same processes, paced by the wall clock; strict=False lets a slow step catch up.
            self.env = simpy.rt.RealtimeEnvironment(factor=1.0 / realtime_speed, strict=False)
        self.uow = UnitOfWork(make_session_factory(engine))
        self.scheduler = DeadlineScheduler(self.uow, deadline_handlers(), clock=self.now)
        self.ranker = ranker or StraightLineRanker()
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

    def now(self) -> datetime:
        """The app's clock: the scenario start plus virtual seconds."""
        return self.start + timedelta(seconds=float(self.env.now))

    def seconds_of(self, at: datetime) -> float:
        return (at - self.start).total_seconds()

    def setup(self) -> None:
        """Seeds the demo world at the scenario start and puts the fleet on patrol."""
        self.world = seed(
            self.uow, at=self.now(), seed_value=self.scenario.seed, pupils=self.scenario.pupils
        )
        keep = self.scenario.fleet.units or len(self.world.units)
        for index, unit in enumerate(self.world.units):
            if index >= keep:
                with self.uow.begin() as session:
                    dispatch.change_unit_status(
                        session,
                        unit_id=unit.id,
                        status=UnitStatus.OFF_DUTY,
                        actor="sim",
                        at=self.now(),
                    )
                continue
            home = next(s for s in self.world.stations if s.id == unit.station_id)
            agent = agents.UnitAgent(self, unit.id, unit.call_sign, (home.lat, home.lon))
            agent.position = (unit.lat or home.lat, unit.lon or home.lon)
            self.units[unit.id] = agent
            self.on_duty.append(unit.id)
        for agent in self.units.values():
            agent.process = self.env.process(agent.run())
        self.env.process(self._arrivals())
        self.env.process(self._ticker())
        self.env.process(self._dispatcher())

    def run(self) -> SimLog:
        """Runs to the scenario's end; cases still open then are counted as they stand."""
        if self.world is None:
            self.setup()
        self.env.run(until=self.scenario.duration_min * 60.0)
        return self.log

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
        rhythm = self.scenario.arrivals.rhythm
        peak = self.scenario.arrivals.per_hour * max([1.0, *rhythm.values()]) / 3600.0
        while True:
            yield self.env.timeout(float(self.rng_arrivals.exponential(1.0 / peak)))
            if self.rng_arrivals.uniform() * peak <= self.rate_per_s(float(self.env.now)):
                self.env.process(agents.reporter(self))

    def _ticker(self) -> Step:
        """Fires due durable deadlines (ack timers, verification deadlines) each virtual tick."""
        while True:
            yield self.env.timeout(self.scenario.tick_s)
            self.scheduler.fire_due(self.now())
            self.deliver_orders()

    def _dispatcher(self) -> Step:
        """A dispatcher re-tries active incidents left without a unit (all were busy)."""
        every = self.scenario.fleet.dispatcher_every_s
        while True:
            yield self.env.timeout(every)
            with self.uow.read() as session:
                waiting = [
                    i
                    for i in incidents.list_recent(session, active_only=True)
                    if i.drill
                    and i.status not in {IncidentStatus.FALSE_ALARM, IncidentStatus.CANCELLED}
                    and not dispatch.open_assignments(session, incident_id=i.id)
                ]
            for incident in sorted(waiting, key=lambda i: i.received_at):

                def order(incident_id: str = incident.id) -> None:
                    with self.uow.begin() as session:
                        found = incidents.get(session, incident_id=incident_id)
                        dispatch.order_best_unit(
                            session,
                            incident=found,
                            ranker=self.ranker,
                            actor=SIM_DISPATCHER,
                            at=self.now(),
                        )

                self.call("dispatcher order", order)
            self.deliver_orders()

    def deliver_orders(self) -> None:
        """Hands each new order in the database to its unit's crew, as their terminal would."""
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
