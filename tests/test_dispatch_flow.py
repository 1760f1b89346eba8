"""Dispatch policy and acknowledgement timers with controlled time: reassign once, code 0, pre-emption."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from tests.factories import CITY_HALL, T0, World, build_world
from tests.verifykit import CONFIG, receive_sos_with

from ansim.bus.scheduler import DeadlineScheduler
from ansim.domain.dispatch_policy import DispatchPolicy
from ansim.domain.errors import Conflict, InvalidInput
from ansim.domain.fixes import FixMethod, LocationFix
from ansim.domain.incidents import Channel, PriorityCode
from ansim.domain.units import AssignmentState, UnitStatus
from ansim.geo.demo_data import load_road_graph
from ansim.services import dispatch, dispatch_flow, incidents
from ansim.services.incidents import SosReport
from ansim.services.platform import Platform
from ansim.services.road_ranking import RoadRanker
from ansim.services.timers import deadline_handlers
from ansim.store import deadlines
from ansim.store.db import make_session_factory
from ansim.store.tables import outbox
from ansim.store.uow import UnitOfWork

RANKER = RoadRanker(load_road_graph())
# Guardians answer late here: these tests follow the orders, not verification's deadline.
SLOW_GUARDIANS = dataclasses.replace(CONFIG, answer_timeout=timedelta(hours=1))


def _platform(uow: UnitOfWork, policy: DispatchPolicy | None = None) -> Platform:
    return Platform(
        uow=uow,
        ranker=RANKER,
        policy=policy or DispatchPolicy(),
        verification=SLOW_GUARDIANS,
        merge_window=timedelta(0),
        auto_dispatch=True,
        clock=lambda: T0,
    )


def _sos(uow: UnitOfWork, world: World, *, at=T0, policy: DispatchPolicy | None = None) -> str:  # type: ignore[no-untyped-def]
    fix = LocationFix(*CITY_HALL, radius_m=30, method=FixMethod.GNSS, observed_at=at, source="t")
    outcome = receive_sos_with(
        uow,
        report=SosReport(
            channel=Channel.APP,
            received_at=at,
            source="t",
            subscriber_id=world.subscriber_id,
            fix=fix,
        ),
        ranker=RANKER,
        merge_window=timedelta(0),
        auto_dispatch=True,
        policy=policy,
        verify=SLOW_GUARDIANS,
    )
    return outcome.incident.id


def _events(uow: UnitOfWork, event_type: str) -> list[dict[str, object]]:
    with uow.read() as session:
        rows = session.execute(sa.select(outbox.c.data).where(outbox.c.type == event_type))
        return [dict(r[0]) for r in rows]


def _states(uow: UnitOfWork, incident_id: str) -> list[tuple[str, str]]:
    with uow.read() as session:
        names = {u.id: u.call_sign for u in dispatch.list_units(session)}
        return [
            (names[a.unit_id], a.state.value)
            for a in dispatch.incident_assignments(session, incident_id=incident_id)
        ]


@pytest.fixture
def uow(engine: Engine) -> UnitOfWork:
    return UnitOfWork(make_session_factory(engine))


def test_an_unacknowledged_order_moves_to_the_next_unit_by_eta_exactly_once(
    engine: Engine, uow: UnitOfWork
) -> None:
    world = build_world(engine)
    incident_id = _sos(uow, world)
    assert _states(uow, incident_id) == [("태평로11", "ordered")]
    with uow.read() as session:
        (order,) = dispatch.open_assignments(session, incident_id=incident_id)
        assert order.ack_due_at == T0 + timedelta(seconds=30)
        assert order.eta_s is not None
        assert 0 < order.eta_s < 300
    scheduler = DeadlineScheduler(uow, deadline_handlers(_platform(uow)), clock=lambda: T0)
    assert scheduler.fire_due(T0 + timedelta(seconds=29)) == 0
    assert scheduler.fire_due(T0 + timedelta(seconds=31)) == 1
    assert scheduler.fire_due(T0 + timedelta(seconds=31)) == 0  # fired once, never again
    assert _states(uow, incident_id) == [("태평로11", "timed_out"), ("남대문21", "ordered")]
    (told,) = _events(uow, "assignment.ack_timed_out")
    assert told["call_sign"] == "태평로11"
    assert told["next_call_sign"] == "남대문21"
    with uow.read() as session:
        first = dispatch.get_unit(session, unit_id=world.unit_ids["태평로11"])
        assert first.status == UnitStatus.AVAILABLE  # back on the list, but not for this incident
        history = dispatch.unit_history(session, unit_id=first.id)
        assert [(h["previous"], h["status"]) for h in history] == [
            (UnitStatus.ORDERED, UnitStatus.AVAILABLE),
            (UnitStatus.AVAILABLE, UnitStatus.ORDERED),
        ]
    # The second and third units let it down too; then the board hears nobody is left.
    assert scheduler.fire_due(T0 + timedelta(seconds=62)) == 1
    assert scheduler.fire_due(T0 + timedelta(seconds=93)) == 1
    assert [s for _, s in _states(uow, incident_id)] == ["timed_out"] * 3
    last = _events(uow, "assignment.ack_timed_out")[-1]
    assert last["next_unit_id"] is None
    assert "no other unit" in str(last["reason"])


def test_an_acknowledged_order_stops_its_deadline(engine: Engine, uow: UnitOfWork) -> None:
    world = build_world(engine)
    incident_id = _sos(uow, world)
    with uow.begin() as session:
        (order,) = dispatch.open_assignments(session, incident_id=incident_id)
        dispatch.acknowledge(
            session, assignment_id=order.id, actor="officer", at=T0 + timedelta(seconds=5)
        )
    scheduler = DeadlineScheduler(uow, deadline_handlers(_platform(uow)), clock=lambda: T0)
    assert scheduler.fire_due(T0 + timedelta(minutes=5)) == 0
    assert _states(uow, incident_id) == [("태평로11", "acknowledged")]
    with uow.begin() as session, pytest.raises(Conflict):
        dispatch_flow.decline(
            session,
            assignment_id=order.id,
            platform=_platform(uow),
            actor="officer",
            at=T0,
        )


def test_code_0_sends_the_configured_number_of_extra_units(engine: Engine, uow: UnitOfWork) -> None:
    world = build_world(engine)
    policy = DispatchPolicy(code0_extra_units=1)
    incident_id = _sos(uow, world, policy=policy)
    with uow.begin() as session:
        incident = incidents.change_priority(
            session,
            incident_id=incident_id,
            priority=PriorityCode.CODE_0,
            actor="dispatcher",
            reason="kidnapping suspected",
            at=T0 + timedelta(seconds=10),
        )
        added = dispatch_flow.dispatch_per_policy(
            session, incident=incident, ranker=RANKER, policy=policy, actor="d", at=T0
        )
        assert len(added) == 1
        again = dispatch_flow.dispatch_per_policy(
            session, incident=incident, ranker=RANKER, policy=policy, actor="d", at=T0
        )
        assert again == []  # topping up is idempotent
    assert [s for _, s in _states(uow, incident_id)] == ["ordered", "ordered"]


def test_a_code_1_incident_preempts_a_unit_on_a_code_2_job_which_is_requeued(
    engine: Engine, uow: UnitOfWork
) -> None:
    world = build_world(engine)
    policy = DispatchPolicy()
    job_id = _sos(uow, world)
    with uow.begin() as session:
        incidents.change_priority(
            session, incident_id=job_id, priority=PriorityCode.CODE_2, actor="d", reason="r", at=T0
        )
        for call_sign in ("남대문21", "종로31"):
            dispatch.change_unit_status(
                session,
                unit_id=world.unit_ids[call_sign],
                status=UnitStatus.OFF_DUTY,
                actor="admin",
                at=T0,
            )
    urgent_id = _sos(uow, world, at=T0 + timedelta(seconds=1))  # no unit free: nobody ordered
    assert _states(uow, urgent_id) == []
    busy = world.unit_ids["태평로11"]
    with uow.begin() as session:
        urgent = incidents.get(session, incident_id=urgent_id)
        (candidate,) = dispatch_flow.preemption_candidates(session, incident=urgent, ranker=RANKER)
        assert candidate.ranked.unit.id == busy
        assert candidate.job_priority == PriorityCode.CODE_2
        dispatch_flow.preempt(
            session,
            incident_id=urgent_id,
            unit_id=busy,
            platform=_platform(uow, policy),
            actor="dispatcher",
            at=T0 + timedelta(seconds=2),
        )
    assert _states(uow, urgent_id) == [("태평로11", "ordered")]
    assert _states(uow, job_id) == [("태평로11", "preempted")]
    (requeued,) = _events(uow, "incident.requeued")
    assert requeued["incident_id"] == job_id
    assert requeued["next_assignment_id"] is None
    (preempted,) = _events(uow, "unit.preempted")
    assert preempted["from_incident_id"] == job_id
    assert preempted["confirmed_by"] == "dispatcher"
    # Code 1 never takes a unit from another code 1 job.
    third = _sos(uow, world, at=T0 + timedelta(seconds=3))
    with uow.begin() as session, pytest.raises(Conflict, match="cannot take a unit"):
        dispatch_flow.preempt(
            session,
            incident_id=third,
            unit_id=busy,
            platform=_platform(uow, policy),
            actor="d",
            at=T0,
        )


def test_the_policy_resolves_channel_and_priority_most_specific_last() -> None:
    policy = DispatchPolicy(
        ack_timeout_s=20,
        overrides={
            "*:1": {"units": 2},
            "one_touch:1": {"ack_timeout_s": 45},
            "*:3": {"auto_dispatch": True},
        },
    )
    assert policy.rule_for(Channel.APP, PriorityCode.CODE_1).units == 2
    one_touch = policy.rule_for(Channel.ONE_TOUCH, PriorityCode.CODE_1)
    assert (one_touch.units, one_touch.ack_timeout_s) == (2, 45.0)
    assert policy.rule_for(Channel.APP, PriorityCode.CODE_0).units == 3
    assert policy.rule_for(Channel.APP, PriorityCode.CODE_3).auto_dispatch
    assert not DispatchPolicy().rule_for(Channel.APP, PriorityCode.CODE_4).auto_dispatch
    with pytest.raises(InvalidInput, match="channel:priority"):
        DispatchPolicy(overrides={"sms:1": {"units": 1}})
    with pytest.raises(InvalidInput, match="unknown field"):
        DispatchPolicy(overrides={"*:1": {"radius": 1}})
    with pytest.raises(InvalidInput, match="units"):
        DispatchPolicy(overrides={"*:1": {"units": 99}})


def test_deadlines_survive_a_restart_of_the_scheduler(engine: Engine, uow: UnitOfWork) -> None:
    world = build_world(engine)
    incident_id = _sos(uow, world)
    with uow.read() as session:
        (pending,) = deadlines.pending(session, kind=dispatch.ACK_DEADLINE)
        assert pending.data["incident_id"] == incident_id
    restarted = DeadlineScheduler(uow, deadline_handlers(_platform(uow)), clock=lambda: T0)
    assert restarted.fire_due(T0 + timedelta(seconds=30)) == 1
    assert AssignmentState.TIMED_OUT.value in [s for _, s in _states(uow, incident_id)]
