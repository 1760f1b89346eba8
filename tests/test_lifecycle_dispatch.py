"""An open incident is ordered a unit or visibly waits with a durable retry (issue 14: "no fix, no
dispatch"; "in a surge the oldest SOS vanish from the board")."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from sqlalchemy.engine import Engine
from tests.lifecyclekit import Stage, city_hall_fix, stage
from tests.verifykit import CONFIG

from ansim.domain.dispatch_policy import DispatchPolicy
from ansim.domain.incidents import Channel, IncidentStatus
from ansim.domain.units import UnitStatus
from ansim.services import dispatch, handset, incidents
from ansim.services.handlers import do_receive_sos
from ansim.services.incidents import SosReport


def test_an_sos_without_a_fix_waits_and_is_dispatched_the_moment_a_fix_arrives(
    engine: Engine,
) -> None:
    s = stage(engine)
    incident_id = s.sos(fix=False)
    waiting = s.incident(incident_id)
    assert waiting.lat is None  # "no location yet" on the board
    assert waiting.waiting_for_units == 1
    assert s.orders(incident_id) == []
    (told,) = s.events("incident.waiting_changed", incident_id)
    assert told["no_location"] is True
    assert s.fire(5) == 0  # nothing due before the retry
    # The first usable fix, here from the app's fix upload path, 7 s after the press.
    with s.platform.uow.begin() as session:
        incident = incidents.get(session, incident_id=incident_id, for_update=True)
        incidents.add_fix(
            session,
            incident=incident,
            fix=city_hall_fix(s.clock.at(7)),
            received_at=s.clock.now,
        )
    assert s.fire(7) == 1  # the retry was pulled forward to the fix's arrival
    assert s.orders(incident_id) == [("태평로11", "ordered")]
    dispatched = s.incident(incident_id)
    assert dispatched.waiting_for_units == 0
    assert dispatched.status == IncidentStatus.VERIFYING  # and the guardians are asked now
    assert [m.template for m in s.messages(incident_id)] == ["verification_link"]


def test_a_carrier_network_fix_dispatches_a_one_touch_sos_that_had_none(engine: Engine) -> None:
    s = stage(engine)
    incident_id = s.sos(fix=False)
    with s.platform.uow.begin() as session:
        handset.attach_or_keep(
            session,
            channel="aml",
            caller_number=s.world.one_touch_number,
            imei=None,
            fix=city_hall_fix(s.clock.at(4)),
            received_at=s.clock.now,
        )
    assert s.fire(4) == 1
    assert s.orders(incident_id) == [("태평로11", "ordered")]


def test_after_an_ack_timeout_with_no_unit_free_the_retry_orders_the_next_free_one(
    engine: Engine,
) -> None:
    """Issue 14: after an ack timeout with no other unit free, nothing retried."""
    s = stage(engine)
    s.set_unit("남대문21", UnitStatus.OFF_DUTY, 0)
    s.set_unit("종로31", UnitStatus.OFF_DUTY, 0)
    incident_id = s.sos()
    assert s.fire(31) == 1  # 태평로11 lets the order time out; no other unit is on duty
    assert s.orders(incident_id) == [("태평로11", "timed_out")]
    assert s.incident(incident_id).waiting_for_units == 1
    (timed_out,) = s.events("assignment.ack_timed_out", incident_id)
    assert "no other unit" in str(timed_out["reason"])
    s.set_unit("남대문21", UnitStatus.AVAILABLE, 35)
    assert s.fire(40) == 0
    assert s.fire(41) == 1  # the retry, 10 s after the timeout
    assert s.orders(incident_id) == [("태평로11", "timed_out"), ("남대문21", "ordered")]
    assert s.incident(incident_id).waiting_for_units == 0


def test_a_unit_that_timed_out_rests_and_is_neither_ordered_nor_recommended(engine: Engine) -> None:
    """Issue 14: a unit that just failed to acknowledge was ordered to the next SOS 2 s later."""
    slow_guardians = dataclasses.replace(CONFIG, answer_timeout=timedelta(hours=1))
    s = stage(engine, policy=DispatchPolicy(unit_rest_s=120), config=slow_guardians)
    first = s.sos()
    assert s.fire(31) == 1
    assert s.orders(first) == [("태평로11", "timed_out"), ("남대문21", "ordered")]
    s.acknowledge(first, "남대문21", 32)
    # Another person's SOS: 태평로11 is free and nearest, but resting; 종로31 goes.
    other = _sos_from(s, "+821055550001", 33)
    assert s.open_orders(other) == ["종로31"]
    s.acknowledge(other, "종로31", 34)
    third = _sos_from(s, "+821055550002", 35)
    assert s.orders(third) == []
    assert s.incident(third).waiting_for_units == 1
    with s.platform.uow.read() as session:
        ranked = dispatch.rank_units(
            session,
            incident=incidents.get(session, incident_id=third),
            ranker=s.platform.ranker,
            at=s.clock.now,
            rest_s=s.platform.policy.unit_rest_s,
        )
    assert ranked == []  # not recommended to the dispatcher either
    s.fire(150)  # rested until 151 s (the timeout at 31 s + 120 s)
    assert s.orders(third) == []
    s.fire(160)
    assert s.orders(third) == [("태평로11", "ordered")]


def _sos_from(s: Stage, number: str, seconds: float) -> str:
    at = s.clock.at(seconds)
    report = SosReport(
        channel=Channel.ONE_TOUCH,
        received_at=at,
        source="carrier:test",
        caller_number=number,
        fix=city_hall_fix(at),
    )
    return do_receive_sos(s.platform, report=report).incident.id


def test_every_open_incident_is_listed_waiting_first_then_by_code_and_age(engine: Engine) -> None:
    """Issue 14: the list answered the 200 newest; in a surge the longest-waiting were on no screen."""
    s = stage(engine)
    opened = [_sos_from(s, f"+8210555{n:05d}", n * 0.5) for n in range(240)]
    with s.platform.uow.read() as session:
        everything = incidents.list_open(session)
        open_count, waiting = incidents.count_open(session)
    assert len(everything) == open_count == 240
    assert waiting == 237  # three units for 240 SOS
    # Waiting for a unit first, the oldest first; those with their unit after them.
    assert [i.id for i in everything[:237]] == opened[3:]
    assert {i.id for i in everything[237:]} == set(opened[:3])
    # Paged by cursor, the same list.
    paged, after = [], None
    with s.platform.uow.read() as session:
        while True:
            page = incidents.list_open(session, limit=50, after=after)
            paged.extend(page)
            if len(page) < 50:
                break
            after = incidents.QueuePosition.of(page[-1])
    assert [i.id for i in paged] == [i.id for i in everything]
