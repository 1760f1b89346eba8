"""Helpers for the lifecycle tests: the real commands on a real database, on a clock the test moves."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from tests.factories import CITY_HALL, T0, World, build_world
from tests.verifykit import CONFIG, uow_of

from ansim.bus.scheduler import DeadlineScheduler
from ansim.domain.deliveries import Delivery
from ansim.domain.dispatch_policy import DispatchPolicy
from ansim.domain.fixes import FixMethod, LocationFix
from ansim.domain.incidents import Channel, Incident
from ansim.domain.units import UnitStatus
from ansim.services import app_accounts, deliveries, dispatch, incidents
from ansim.services.handlers import do_receive_sos
from ansim.services.incidents import SosReport
from ansim.services.platform import Platform
from ansim.services.ranking import StraightLineRanker
from ansim.services.timers import deadline_handlers
from ansim.services.verification_config import VerificationConfig
from ansim.store.tables import outbox

PIN, DURESS_PIN = "1234", "9999"


@dataclass
class Clock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def at(self, seconds: float) -> datetime:
        """Moves to T0 + `seconds` and returns that time."""
        self.now = T0 + timedelta(seconds=seconds)
        return self.now


@dataclass
class Stage:
    """A tiny world (three units near City Hall, one pupil with a guardian and PINs) and its platform."""

    engine: Engine
    world: World
    platform: Platform
    clock: Clock = field(default_factory=Clock)

    @property
    def scheduler(self) -> DeadlineScheduler:
        return DeadlineScheduler(
            self.platform.uow, deadline_handlers(self.platform), clock=self.clock
        )

    def fire(self, seconds: float) -> int:
        """Fires every deadline due by T0 + `seconds` (each command in its claim transaction)."""
        fired = 0
        while count := self.scheduler.fire_due(self.clock.at(seconds)):
            fired += count
        return fired

    def sos(self, seconds: float = 0, *, fix: bool = True, key: str | None = None) -> str:
        at = self.clock.at(seconds)
        report = SosReport(
            channel=Channel.APP,
            received_at=at,
            source="app:test",
            subscriber_id=self.world.subscriber_id,
            fix=city_hall_fix(at) if fix else None,
            idempotency_scope="app:test",
            idempotency_key=key,
        )
        return do_receive_sos(self.platform, report=report).incident.id

    def incident(self, incident_id: str) -> Incident:
        with self.platform.uow.read() as session:
            return incidents.get(session, incident_id=incident_id)

    def orders(self, incident_id: str) -> list[tuple[str, str]]:
        """(call sign, assignment state) of every order to the incident, oldest first."""
        with self.platform.uow.read() as session:
            names = {u.id: u.call_sign for u in dispatch.list_units(session)}
            return [
                (names[a.unit_id], a.state.value)
                for a in dispatch.incident_assignments(session, incident_id=incident_id)
            ]

    def open_orders(self, incident_id: str) -> list[str]:
        with self.platform.uow.read() as session:
            names = {u.id: u.call_sign for u in dispatch.list_units(session)}
            return [
                names[a.unit_id]
                for a in dispatch.open_assignments(session, incident_id=incident_id)
            ]

    def events(self, event_type: str, incident_id: str | None = None) -> list[dict[str, object]]:
        with self.platform.uow.read() as session:
            query = sa.select(outbox.c.data).where(outbox.c.type == event_type)
            if incident_id is not None:
                query = query.where(outbox.c.incident_id == incident_id)
            return [dict(r[0]) for r in session.execute(query.order_by(outbox.c.id))]

    def messages(self, incident_id: str) -> list[Delivery]:
        with self.platform.uow.read() as session:
            return deliveries.for_incident(session, incident_id=incident_id)

    def set_unit(self, call_sign: str, status: UnitStatus, seconds: float) -> None:
        with self.platform.uow.begin() as session:
            dispatch.change_unit_status(
                session,
                unit_id=self.world.unit_ids[call_sign],
                status=status,
                actor="admin",
                at=self.clock.at(seconds),
            )

    def acknowledge(self, incident_id: str, call_sign: str, seconds: float) -> None:
        with self.platform.uow.begin() as session:
            for order in dispatch.open_assignments(session, incident_id=incident_id):
                if order.unit_id == self.world.unit_ids[call_sign]:
                    dispatch.acknowledge(
                        session, assignment_id=order.id, actor=call_sign, at=self.clock.at(seconds)
                    )


def city_hall_fix(at: datetime) -> LocationFix:
    return LocationFix(
        lat=CITY_HALL[0],
        lon=CITY_HALL[1],
        radius_m=30,
        method=FixMethod.GNSS,
        observed_at=at,
        source="test",
    )


def stage(
    engine: Engine,
    *,
    policy: DispatchPolicy | None = None,
    config: VerificationConfig = CONFIG,
) -> Stage:
    world = build_world(engine)
    clock = Clock()
    platform = Platform(
        uow=uow_of(engine),
        ranker=StraightLineRanker(),
        policy=policy or DispatchPolicy(),
        verification=config,
        merge_window=timedelta(minutes=30),
        auto_dispatch=True,
        clock=clock,
    )
    with platform.uow.begin() as session:
        app_accounts.set_pins(
            session, subscriber_id=world.subscriber_id, pin=PIN, duress_pin=DURESS_PIN, at=T0
        )
    return Stage(engine, world, platform, clock)
