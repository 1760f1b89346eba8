"""Verification: dispatch first, then the guardians; danger from anyone escalates, silence is danger."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine
from tests.factories import T0, build_world
from tests.verifykit import CONFIG, count, platform_on, send_sos, uow_of

from ansim.bus.scheduler import DeadlineScheduler
from ansim.domain.deliveries import DeliveryStatus
from ansim.domain.errors import Conflict
from ansim.domain.incidents import Channel, IncidentStatus, PriorityCode
from ansim.domain.school_guards import SchoolGuard
from ansim.domain.verification import Answer, AnswerSource, DispatcherDecision, VerificationState
from ansim.services import (
    alerts,
    deliveries,
    dispatch,
    guardian_page,
    incidents,
    people,
    school_guards,
    verification,
)
from ansim.services.timers import deadline_handlers
from ansim.store import deadlines, outbox
from ansim.store.tables import deliveries as deliveries_table


def _scheduler(engine: Engine) -> DeadlineScheduler:
    """Fires only the verification timer; the units' acknowledgement timers are another test's."""
    handlers = deadline_handlers(platform_on(engine))
    only = {verification.ANSWER_DEADLINE: handlers[verification.ANSWER_DEADLINE]}
    return DeadlineScheduler(uow_of(engine), only, clock=lambda: T0)


def _guardian_answer(engine: Engine, incident_id: str, answer: Answer, at_s: float = 10) -> None:
    with uow_of(engine).begin() as session:
        guardian = people.guardians_of(
            session,
            subscriber_id=incidents.get(session, incident_id=incident_id).subscriber_id or "",
        )[0]
        verification.record_answer(
            session,
            incident_id=incident_id,
            recipient_id=guardian.id,
            source=AnswerSource.GUARDIAN_PAGE,
            answer=answer,
            actor=f"guardian:{guardian.id}",
            at=T0 + timedelta(seconds=at_s),
            platform=platform_on(engine),
        )


def test_a_dispatched_sos_starts_verification_and_silence_counts_as_danger(engine: Engine) -> None:
    world = build_world(engine)
    incident_id = send_sos(engine, world.subscriber_id)
    with uow_of(engine).read() as session:
        incident = incidents.get(session, incident_id=incident_id)
        assert incident.status == IncidentStatus.VERIFYING
        assert incident.priority == PriorityCode.CODE_1
        kinds = [e.kind for e in incidents.timeline(session, incident_id=incident_id)]
        # The unit was ordered before anyone was asked.
        assert kinds.index("unit_ordered") < kinds.index("verification_started")
        [pending] = deadlines.pending(session, kind=verification.ANSWER_DEADLINE)
        assert pending.due_at == T0 + timedelta(seconds=60)
        [sms] = deliveries.for_incident(session, incident_id=incident_id)
        assert sms.status == DeliveryStatus.QUEUED
        assert "https://ansim.example/g/" in sms.body
        assert "김하늘" in sms.body
        assert "서울덕수초등학교" not in sms.body
    scheduler = _scheduler(engine)
    assert scheduler.fire_due(T0 + timedelta(seconds=59)) == 0
    assert scheduler.fire_due(T0 + timedelta(seconds=61)) == 1
    with uow_of(engine).read() as session:
        incident = incidents.get(session, incident_id=incident_id)
        assert (incident.status, incident.priority) == (
            IncidentStatus.CONFIRMED,
            PriorityCode.CODE_0,
        )
        found = verification.get(session, incident_id=incident_id)
        assert found is not None
        assert found.state == VerificationState.DANGER
        decided = [
            e
            for e in incidents.timeline(session, incident_id=incident_id)
            if e.kind == "verification_decided"
        ]
        assert decided[0].actor == verification.TIMER
        assert "no answer within 60 s" in decided[0].data["reason"]
        priority = [
            e
            for e in incidents.timeline(session, incident_id=incident_id)
            if e.kind == "priority_changed"
        ]
        assert priority[0].data["reason"].startswith("suspected kidnapping (child)")
        types = [e.type for e in outbox.since(session, after_id=0)]
        assert {"verification.started", "verification.decided", "incident.priority_changed"} <= set(
            types
        )
    # A restarted scheduler finds nothing left to fire.
    assert _scheduler(engine).fire_due(T0 + timedelta(minutes=10)) == 0


def test_a_mistake_asks_the_dispatcher_and_never_recalls_a_unit(engine: Engine) -> None:
    world = build_world(engine)
    incident_id = send_sos(engine, world.subscriber_id)
    _guardian_answer(engine, incident_id, Answer.SAFE)
    # The fail-safe timer is off once a guardian answered; the units are untouched.
    assert _scheduler(engine).fire_due(T0 + timedelta(minutes=5)) == 0
    with uow_of(engine).read() as session:
        found = verification.get(session, incident_id=incident_id)
        assert found is not None
        assert (found.state, found.stand_down_requested) == (VerificationState.MISTAKE, True)
        assert incidents.get(session, incident_id=incident_id).priority == PriorityCode.CODE_1
        assert len(dispatch.open_assignments(session, incident_id=incident_id)) == 1
    with uow_of(engine).begin() as session:
        verification.decide(
            session,
            incident_id=incident_id,
            decision=DispatcherDecision.STAND_DOWN,
            actor="dispatcher",
            reason="father is with her",
            at=T0 + timedelta(seconds=40),
            platform=platform_on(engine),
        )
    with uow_of(engine).read() as session:
        assert incidents.get(session, incident_id=incident_id).status == IncidentStatus.FALSE_ALARM
        # Standing down is the dispatcher's radio call; the assignment stays until the unit clears.
        assert len(dispatch.open_assignments(session, incident_id=incident_id)) == 1
        kinds = [e.kind for e in incidents.timeline(session, incident_id=incident_id)]
        assert kinds.count("verification_decided") == 2
        assert "guardian_answered" in kinds


def test_danger_after_a_mistake_still_escalates_and_a_link_answers_once(engine: Engine) -> None:
    world = build_world(engine)
    incident_id = send_sos(engine, world.subscriber_id)
    _guardian_answer(engine, incident_id, Answer.SAFE)
    with pytest.raises(Conflict, match="already been used"):
        _guardian_answer(engine, incident_id, Answer.DANGER, at_s=20)
    with uow_of(engine).begin() as session:
        guardian_id = people.guardians_of(session, subscriber_id=world.subscriber_id)[0].id
        verification.record_call(
            session,
            incident_id=incident_id,
            guardian_id=guardian_id,
            outcome=Answer.NO_ANSWER,
            actor="dispatcher",
            at=T0 + timedelta(seconds=25),
            platform=platform_on(engine),
        )
        assert incidents.get(session, incident_id=incident_id).priority == PriorityCode.CODE_1
        verification.record_call(
            session,
            incident_id=incident_id,
            guardian_id=guardian_id,
            outcome=Answer.DANGER,
            actor="dispatcher",
            at=T0 + timedelta(seconds=30),
            platform=platform_on(engine),
        )
    with uow_of(engine).read() as session:
        incident = incidents.get(session, incident_id=incident_id)
        assert (incident.status, incident.priority) == (
            IncidentStatus.CONFIRMED,
            PriorityCode.CODE_0,
        )
        calls = [
            a
            for a in verification.answers(session, incident_id=incident_id)
            if a["source"] == "dispatcher_call"
        ]
        assert [c["answer"] for c in calls] == ["no_answer", "danger"]


def test_a_duress_incident_ignores_mistake_and_reads_as_a_real_cancel(engine: Engine) -> None:
    world = build_world(engine)
    incident_id = send_sos(engine, world.subscriber_id)
    with uow_of(engine).begin() as session:
        incident = incidents.get(session, incident_id=incident_id, for_update=True)
        # A duress cancel leaves the incident open (services.lifecycle.duress): only a flag says it,
        # and the guardian page reads it as a real cancel would.
        incident.duress = True
        assert guardian_page.situation(incident) == "called_off"
    _guardian_answer(engine, incident_id, Answer.SAFE)
    with uow_of(engine).read() as session:
        found = verification.get(session, incident_id=incident_id)
        assert found is not None
        assert found.state == VerificationState.PENDING
        assert not found.stand_down_requested
    assert _scheduler(engine).fire_due(T0 + timedelta(seconds=61)) == 1
    with uow_of(engine).read() as session:
        assert incidents.get(session, incident_id=incident_id).priority == PriorityCode.CODE_0


def test_a_terminal_sos_alerts_guardians_and_the_school_guard_on_duty_once(engine: Engine) -> None:
    world = build_world(engine)
    with uow_of(engine).begin() as session:
        for name, start, end in (("정지킴", "08:00", "17:00"), ("박야간", "19:00", "23:00")):
            school_guards.create(
                session,
                school="서울덕수초등학교",
                name=name,
                phone="+82101112222" if name == "정지킴" else "+82103334444",
                duty_start=start,
                duty_end=end,
            )
    # T0 is Saturday 18:00 in Seoul: nobody is on duty; Friday 10:00 (Seoul) the day guard is.
    friday_morning = T0 - timedelta(days=1, hours=8)
    incident_id = send_sos(engine, world.subscriber_id, at=friday_morning, channel=Channel.TERMINAL)
    with uow_of(engine).read() as session:
        sent = deliveries.for_incident(session, incident_id=incident_id)
        assert sorted((d.recipient_kind.value, d.template) for d in sent) == [
            ("guardian", "terminal_sos"),
            ("school_guard", "school_guard_sos"),
        ]
        guard = next(d for d in sent if d.recipient_kind.value == "school_guard")
        assert guard.address == "+82101112222"
        assert "서울덕수초등학교" in guard.body
        kinds = [e.kind for e in incidents.timeline(session, incident_id=incident_id)]
        assert "alerts_queued" in kinds
        assert "verification_started" in kinds
    with uow_of(engine).read() as session:
        assert not school_guards.on_duty(session, school="서울덕수초등학교", at=T0)


def test_terminal_problem_notices_are_rate_limited(engine: Engine) -> None:
    world = build_world(engine)
    sent = []
    for minutes in (0, 10, 29, 31, 45):
        with uow_of(engine).begin() as session:
            sent.append(
                alerts.notify_guardians_of_terminal_problem(
                    session,
                    subscriber_id=world.subscriber_id,
                    kind="low_battery",
                    at=T0 + timedelta(minutes=minutes),
                )
            )
    with uow_of(engine).begin() as session:
        lost = alerts.notify_guardians_of_terminal_problem(
            session, subscriber_id=world.subscriber_id, kind="terminal_lost", at=T0
        )
    assert sent == [1, 0, 0, 1, 0]
    assert lost == 1
    assert count(engine, deliveries_table, deliveries_table.c.template == "low_battery") == 2


def test_an_unregistered_caller_or_undispatched_sos_has_nothing_to_verify(engine: Engine) -> None:
    world = build_world(engine)
    incident_id = send_sos(engine, world.subscriber_id, auto_dispatch=False)
    with uow_of(engine).read() as session:
        assert verification.get(session, incident_id=incident_id) is None
        assert incidents.get(session, incident_id=incident_id).status == IncidentStatus.RECEIVED
    # A dispatcher's order later starts it (the console calls start after order_unit).
    with uow_of(engine).begin() as session:
        dispatch.order_unit(
            session,
            incident_id=incident_id,
            unit_id=world.unit_ids["태평로11"],
            actor="dispatcher",
            at=T0 + timedelta(seconds=20),
        )
        started = verification.start(
            session,
            incident_id=incident_id,
            config=CONFIG,
            actor="dispatcher",
            at=T0 + timedelta(seconds=20),
        )
        assert started is not None
        assert started.due_at == T0 + timedelta(seconds=80)
        again = verification.start(
            session,
            incident_id=incident_id,
            config=CONFIG,
            actor="dispatcher",
            at=T0 + timedelta(seconds=21),
        )
        assert again is None
    assert count(engine, deliveries_table) == 1


def test_school_guard_records_are_checked(engine: Engine) -> None:
    from ansim.domain.errors import InvalidInput

    with uow_of(engine).begin() as session:
        with pytest.raises(InvalidInput):
            school_guards.create(
                session, school="s", name="n", phone="1", duty_start="8h", duty_end="17:00"
            )
        guard = school_guards.create(
            session,
            school="s",
            name="n",
            phone="010-1234-5678",
            duty_start="22:00",
            duty_end="06:00",
            weekdays="0123456",
        )
        assert isinstance(guard, SchoolGuard)
        assert guard.phone == "+821012345678"
        with pytest.raises(InvalidInput, match="010-1234-5678"):
            school_guards.create(
                session, school="s", name="n", phone="1", duty_start="08:00", duty_end="17:00"
            )
    night = T0.replace(hour=14)  # 23:00 in Seoul
    assert guard.on_duty(night)
    assert not guard.on_duty(T0.replace(hour=4))
