"""The simulated people: patrol crews, reporters and their guardians, as SimPy processes."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Generator
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import simpy

from ansim.domain.fixes import FixMethod, LocationFix
from ansim.domain.incidents import TRANSITIONS, Channel, IncidentStatus
from ansim.domain.units import UnitStatus
from ansim.domain.verification import Answer
from ansim.geo.geodesy import haversine_m
from ansim.services import dispatch, guardian_page, incidents
from ansim.services.handlers import do_receive_sos
from ansim.services.incident_commands import do_change_incident_status
from ansim.services.incidents import SosReport
from ansim.services.location_commands import do_add_fixes
from ansim.services.unit_commands import do_change_unit_status, do_report_unit_position
from ansim.services.verification_commands import do_answer_as_guardian, do_record_delivery_report
from ansim.sim.city import Drive, Mobility
from ansim.sim.location_traces import ERROR_MODELS, T0, ErrorModel, draw_fixes
from ansim.sim.phones import Sms
from ansim.sim.records import CaseRecord

if TYPE_CHECKING:
    from ansim.sim.runner import Simulation

Step = Generator[simpy.Event, Any, None]
FOLLOW_FIXES_S = 1800
# A unit re-plans when the estimate moved this far from where it is heading.
REPLAN_M = 150.0
# A crew stops when its incident is called off (the terminal shows the stand-down).
CALLED_OFF = frozenset({IncidentStatus.FALSE_ALARM, IncidentStatus.CANCELLED})
# Seconds from the provider taking a text message to the phone showing it.
SMS_LATENCY_S = (1.0, 6.0)
# Seconds from press to commit: carrier platform relay, app over LTE, terminal over MQTT/HTTP.
TRANSMISSION_S: dict[Channel, tuple[float, float]] = {
    Channel.ONE_TOUCH: (2.0, 6.0),
    Channel.APP: (0.3, 1.5),
    Channel.TERMINAL: (0.5, 3.0),
}
# A feature phone's first location is the network's: cell-heavy (REFERENCE.md, AML figures).
ONE_TOUCH_MODELS: dict[FixMethod, ErrorModel] = {
    FixMethod.CELL: ErrorModel(0.45, 600.0, 0.5, 0.35),
    FixMethod.WIFI: ErrorModel(0.35, 74.0, 0.5, 0.35),
    FixMethod.GNSS: ErrorModel(0.20, 8.0, 0.5, 0.35),
}


class UnitAgent:
    """A patrol car's crew: patrols, acknowledges orders, drives there, clears and patrols again."""

    def __init__(
        self, sim: Simulation, unit_id: str, call_sign: str, home: tuple[float, float]
    ) -> None:
        self.sim = sim
        self.unit_id = unit_id
        self.call_sign = call_sign
        self.home = home
        self.position = home
        self.process: simpy.Process | None = None
        self.order: tuple[str, str] | None = None
        self._drive: tuple[Drive, float] | None = None

    def run(self) -> Step:
        while True:
            try:
                if self.order is None:
                    yield from self._patrol()
                else:
                    yield from self._respond(*self.order)
            except simpy.Interrupt as interrupt:
                self._where_now()
                kind, *rest = interrupt.cause or (None,)
                if kind == "order":
                    self.order = (rest[0], rest[1])

    def _where_now(self) -> None:
        if self._drive is not None:
            drive, started = self._drive
            self.position = drive.position(float(self.sim.env.now) - started)
            self._drive = None

    def _travel(self, drive: Drive, every_s: float, target_of: Any = None) -> Step:
        """Follows `drive`, reporting positions; stops early when `target_of()` says to re-plan."""
        self._drive = (drive, float(self.sim.env.now))
        done = 0.0
        while done < drive.seconds:
            step = min(every_s, drive.seconds - done)
            yield self.sim.env.timeout(step)
            done += step
            self.position = drive.position(done)
            self._report_position()
            if target_of is not None and target_of():
                break
        self._drive = None

    def _report_position(self) -> None:
        lat, lon = self.position
        report = functools.partial(
            do_report_unit_position, self.sim.platform, unit_id=self.unit_id, lat=lat, lon=lon
        )
        self.sim.call("move_unit", report)

    def _patrol(self) -> Step:
        fleet = self.sim.scenario.fleet
        while True:
            goal = self.sim.city.random_place_near(self.sim.rng_units, *self.home, 1500.0)
            drive = self.sim.city.drive(self.position, goal, speed_factor=fleet.patrol_speed_factor)
            yield from self._travel(drive, fleet.patrol_report_every_s)
            yield self.sim.env.timeout(float(self.sim.rng_units.uniform(60, 300)))

    def _status(self, status: UnitStatus) -> bool:
        change = functools.partial(
            do_change_unit_status,
            self.sim.platform,
            unit_id=self.unit_id,
            status=status,
            actor=self.call_sign,
        )
        return self.sim.call(f"unit {status}", change)

    def _incident(self, incident_id: str) -> tuple[tuple[float, float] | None, bool]:
        """What the crew's terminal shows: the location estimate, and whether the call is off."""
        with self.sim.uow.read() as session:
            incident = incidents.get(session, incident_id=incident_id)
        called_off = incident.status in CALLED_OFF or not incident.is_active
        if incident.lat is None or incident.lon is None:
            return None, called_off
        return (incident.lat, incident.lon), called_off

    def _respond(self, assignment_id: str, incident_id: str) -> Step:
        fleet = self.sim.scenario.fleet
        yield self.sim.env.timeout(
            self.sim.lognormal(self.sim.rng_units, fleet.ack_median_s, fleet.ack_spread)
        )
        if not self._status(UnitStatus.EN_ROUTE):
            self.order = None  # the order was withdrawn or given to another unit meanwhile
            return
        while True:
            estimate, called_off = self._incident(incident_id)
            if called_off:
                self._clear(incident_id, stood_down=True)
                return
            target = estimate or self.position
            drive = self.sim.city.drive(
                self.position, target, speed_factor=fleet.emergency_speed_factor
            )

            def changed(heading: tuple[float, float] = target) -> bool:
                now, off = self._incident(incident_id)
                return off or haversine_m(*(now or heading), *heading) > REPLAN_M

            yield from self._travel(drive, fleet.report_every_s, changed)
            if haversine_m(*self.position, *target) < 1.0 or drive.seconds <= 0:
                break
        self._status(UnitStatus.ON_SCENE)
        case = self.sim.log.case_of(incident_id)
        estimate, _called_off = self._incident(incident_id)
        if case is not None and estimate is not None:
            case.error_at_arrival_m = haversine_m(*estimate, *case.truth(float(self.sim.env.now)))
        minutes = (
            fleet.on_scene_false_min
            if case is not None and case.mis_press
            else fleet.on_scene_real_min
        )
        yield self.sim.env.timeout(self.sim.lognormal(self.sim.rng_units, minutes * 60.0, 0.4))
        self._clear(incident_id, stood_down=False)

    def _clear(self, incident_id: str, *, stood_down: bool) -> None:
        self._status(UnitStatus.AVAILABLE)
        self.order = None
        case = self.sim.log.case_of(incident_id)
        if case is not None:
            case.stood_down = case.stood_down or stood_down
        close_case(self.sim, incident_id, reason="stood down" if stood_down else "cleared on scene")


def close_case(sim: Simulation, incident_id: str, *, reason: str) -> None:
    """Resolves the incident once no unit is left on it; the reporter stops sending fixes."""
    with sim.uow.read() as session:
        if dispatch.open_assignments(session, incident_id=incident_id):
            return
        status = incidents.get(session, incident_id=incident_id).status

    def resolve() -> None:
        if IncidentStatus.RESOLVED in TRANSITIONS[status]:
            do_change_incident_status(
                sim.platform,
                incident_id=incident_id,
                status=IncidentStatus.RESOLVED,
                reason=reason,
                actor="sim",
            )
        case = sim.log.case_of(incident_id)
        if case is not None:
            case.closed = True

    sim.call("resolve", resolve)


def _pick(rng: np.random.Generator, shares: dict[Any, float]) -> Any:
    keys = list(shares)
    weights = np.array([shares[k] for k in keys], np.float64)
    return keys[int(rng.choice(len(keys), p=weights / weights.sum()))]


def reporter(sim: Simulation) -> Step:
    """One person's SOS: press, the message reaches us, fixes follow while help comes."""
    arrivals, rng = sim.scenario.arrivals, sim.rng_people
    assert sim.world is not None
    channel: Channel = _pick(rng, {Channel(k): v for k, v in arrivals.channels.items()})
    mis_press = bool(rng.uniform() < arrivals.mis_press_share)
    mobility: Mobility = "stay" if mis_press else _pick(rng, arrivals.mobility)
    busy = {c.subscriber_id for c in sim.open_pupils()}
    free = [entry for entry in sim.world.subscribers if entry[0].id not in busy]
    pupil, school, _ = free[int(rng.integers(len(free)))] if free else sim.world.subscribers[0]
    start = sim.city.random_place_near(rng, school.lat, school.lon, arrivals.near_school_m)
    trace = sim.city.reporter_trace(rng, start, mobility, FOLLOW_FIXES_S)
    case = CaseRecord(float(sim.env.now), channel, mis_press, mobility, trace)
    case.subscriber_id = pupil.id if free else None
    sim.log.cases.append(case)
    lo, hi = TRANSMISSION_S[channel]
    yield sim.env.timeout(float(rng.uniform(lo, hi)))
    models = ONE_TOUCH_MODELS if channel == Channel.ONE_TOUCH else ERROR_MODELS
    drawn = draw_fixes(trace, sim.rng_fixes, models)
    if channel == Channel.ONE_TOUCH:
        drawn = drawn[:1]  # the carrier posts one network location; no stream follows
    received = sim.now()
    first = _shift(drawn[0].fix, case, sim, observed_at=received) if drawn else None
    sequence = sim.log.cases.index(case)
    platform = sim.platform
    report = SosReport(
        channel=channel,
        received_at=received,
        source=f"sim:{channel.value}",
        subscriber_id=case.subscriber_id,
        caller_number=None if case.subscriber_id else f"+8210999{sequence:05d}",
        fix=first,
        idempotency_scope="sim",
        idempotency_key=f"sim-{sim.scenario.seed}-{sequence:06d}",
        drill=True,
    )
    outcome = do_receive_sos(platform, report=report)
    case.incident_id = outcome.incident.id
    sim.pump()
    for later in drawn[1:]:
        due = case.press_s + later.arrival_s
        if due > float(sim.env.now):
            yield sim.env.timeout(due - float(sim.env.now))
        if case.closed:
            return
        fix = _shift(later.fix, case, sim)
        sim.call("add_fix", functools.partial(_add_fix, sim, case, fix))


def _shift(
    fix: LocationFix, case: CaseRecord, sim: Simulation, observed_at: Any = None
) -> LocationFix:
    observed = observed_at or sim.start + timedelta(seconds=case.press_s) + (fix.observed_at - T0)
    return dataclasses.replace(fix, observed_at=observed, source=f"sim:{case.channel.value}")


def _add_fix(sim: Simulation, case: CaseRecord, fix: LocationFix) -> None:
    assert case.incident_id is not None
    do_add_fixes(sim.platform, incident_id=case.incident_id, fixes=[fix])


def guardian(sim: Simulation, sms: Sms) -> Step:
    """A guardian's phone shows our message; they tap its link after a while and answer, or never do."""
    yield sim.env.timeout(float(sim.rng_people.uniform(*SMS_LATENCY_S)))
    sim.call("delivery report", functools.partial(_report_delivered, sim, sms))
    subscriber_id = sim.guardian_phones.get(sms.to)
    case = sim.log.latest_case_of_person(subscriber_id) if subscriber_id else None
    token = sms.link_token()
    if case is None or token is None:
        return  # a notice without a link, or a message about no simulated case
    settings, rng = sim.scenario.guardians, sim.rng_people
    answers = bool(rng.uniform() < settings.answer_share)
    delay = sim.lognormal(rng, settings.answer_median_s, settings.answer_spread)
    if not answers:
        case.guardian_answered = case.guardian_answered or False
        return
    yield sim.env.timeout(delay)
    # The truth decides the button: with the child after a mis-press, unreachable otherwise.
    answer = Answer.SAFE if case.mis_press else Answer.DANGER
    sim.call("guardian page", functools.partial(_answer_on_page, sim, case, token, answer))


def _report_delivered(sim: Simulation, sms: Sms) -> None:
    """The provider's delivery report, through the command our report callback calls."""
    do_record_delivery_report(sim.platform, message_id=sms.message_id, delivered=True, error="")


def _answer_on_page(sim: Simulation, case: CaseRecord, token: str, answer: Answer) -> None:
    """What opening the link and pressing a button do: the guardian page's own calls, the token
    checked each time; a page that no longer offers an answer gets none."""
    config = sim.platform.verification
    with sim.uow.read() as session:
        page = guardian_page.view(session, token=token, config=config, now=sim.now())
    if not page.can_answer:
        return
    do_answer_as_guardian(sim.platform, token=token, answer=answer)
    case.guardian_answered = True
