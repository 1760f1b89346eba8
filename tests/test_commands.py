"""The command contract: a command owns its transaction (or runs in the one it is given), its audit
entry commits with its change, and the board, the scheduler and the simulation share one Platform."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine
from tests.factories import T0, build_world
from tests.verifykit import platform_of, send_sos, uow_of

from ansim.bus.scheduler import DeadlineScheduler
from ansim.domain.dispatch_policy import DispatchPolicy
from ansim.domain.errors import Conflict, NotFound
from ansim.domain.units import AssignmentState, UnitStatus
from ansim.security import audit
from ansim.services import dispatch, verification
from ansim.services.incident_commands import do_dispatch_unit
from ansim.services.timers import deadline_handlers
from ansim.services.unit_commands import do_change_unit_status

OFFICER = audit.Actor(name="officer", role="officer", ip="10.0.0.7")


def _entries(engine: Engine, action: str) -> list[audit.Entry]:
    with uow_of(engine).read() as session:
        return audit.search(session, action=action)


def test_a_command_and_its_audit_entry_commit_together(engine: Engine) -> None:
    world = build_world(engine)
    platform = platform_of(uow_of(engine))
    unit_id = world.unit_ids["태평로11"]
    unit = do_change_unit_status(
        platform, unit_id=unit_id, status=UnitStatus.OFF_DUTY, actor=OFFICER
    )
    assert unit.status == UnitStatus.OFF_DUTY
    (entry,) = _entries(engine, "unit.status")
    assert (entry.actor, entry.role, entry.ip) == ("officer", "officer", "10.0.0.7")
    assert (entry.subject, entry.detail, entry.at) == (
        f"unit:{unit_id}",
        {"status": "off_duty"},
        T0,
    )
    # A refused command leaves neither its change nor its audit entry.
    with pytest.raises(NotFound):
        do_change_unit_status(
            platform, unit_id="no-such-unit", status=UnitStatus.AVAILABLE, actor=OFFICER
        )
    assert len(_entries(engine, "unit.status")) == 1


def test_a_command_given_a_session_leaves_the_commit_to_its_caller(engine: Engine) -> None:
    world = build_world(engine)
    uow = uow_of(engine)
    platform = platform_of(uow)
    unit_id = world.unit_ids["태평로11"]
    # A deadline handler's claim transaction that fails after the command: nothing of it stays.
    with pytest.raises(RuntimeError), uow.begin() as claim:
        do_change_unit_status(
            platform, unit_id=unit_id, status=UnitStatus.OFF_DUTY, actor="scheduler", session=claim
        )
        raise RuntimeError("the claim's own step failed")
    with uow.read() as session:
        assert dispatch.get_unit(session, unit_id=unit_id).status == UnitStatus.AVAILABLE
    assert _entries(engine, "unit.status") == []


def test_the_simulated_dispatcher_orders_with_the_boards_follow_ups(engine: Engine) -> None:
    world = build_world(engine)
    incident_id = send_sos(engine, world.subscriber_id, auto_dispatch=False)
    platform = platform_of(uow_of(engine), policy=DispatchPolicy(ack_timeout_s=20))
    unit_id = world.unit_ids["태평로11"]
    order = do_dispatch_unit(
        platform, incident_id=incident_id, unit_id=unit_id, actor="sim-dispatcher"
    )
    assert order.state == AssignmentState.ORDERED
    assert order.ordered_by == "sim-dispatcher"
    assert order.ack_due_at == T0 + timedelta(seconds=20)  # the platform's policy
    assert order.eta_s is not None
    with uow_of(engine).read() as session:
        started = verification.get(session, incident_id=incident_id)
    assert started is not None  # dispatch first, verify after: the board's follow-up
    (entry,) = _entries(engine, "incident.dispatch")
    assert (entry.actor, entry.role, entry.incident_id) == ("sim-dispatcher", "system", incident_id)
    # The unit is taken now: a second order of it is refused, and no second audit entry is kept.
    with pytest.raises(Conflict):
        do_dispatch_unit(platform, incident_id=incident_id, unit_id=unit_id, actor="sim-dispatcher")
    assert len(_entries(engine, "incident.dispatch")) == 1


def test_deadline_handlers_run_on_the_commands_platform(engine: Engine) -> None:
    world = build_world(engine)
    incident_id = send_sos(engine, world.subscriber_id, auto_dispatch=False)
    uow = uow_of(engine)
    platform = platform_of(uow, policy=DispatchPolicy(ack_timeout_s=7))
    do_dispatch_unit(
        platform, incident_id=incident_id, unit_id=world.unit_ids["태평로11"], actor="dispatcher"
    )
    scheduler = DeadlineScheduler(uow, deadline_handlers(platform), clock=lambda: T0)
    assert scheduler.fire_due(T0 + timedelta(seconds=8)) == 1
    with uow.read() as session:
        (moved,) = dispatch.open_assignments(session, incident_id=incident_id)
    # The order moved on under the same policy the command used: 7 s from the timeout.
    assert moved.unit_id != world.unit_ids["태평로11"]
    assert moved.ack_due_at == T0 + timedelta(seconds=8 + 7)
