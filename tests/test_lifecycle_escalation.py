"""Every escalation to code 0 applies the code-0 dispatch policy (issue 14: "confirmed danger
converges no units"), whatever raised it: a guardian, the silence deadline, duress, a dispatcher."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from tests.lifecyclekit import DURESS_PIN, Stage, stage

from ansim.domain.incidents import IncidentStatus, PriorityCode
from ansim.domain.units import UnitStatus
from ansim.domain.verification import Answer, AnswerSource
from ansim.services import lifecycle, people, verification
from ansim.services.app_accounts import PinVerdict
from ansim.services.cancel import do_cancel_with_pin


def _guardian_says(s: Stage, incident_id: str, answer: Answer, seconds: float) -> None:
    with s.platform.uow.begin() as session:
        (guardian,) = people.guardians_of(session, subscriber_id=s.world.subscriber_id)
        verification.record_answer(
            session,
            incident_id=incident_id,
            recipient_id=guardian.id,
            source=AnswerSource.GUARDIAN_PAGE,
            answer=answer,
            actor=f"guardian:{guardian.id}",
            at=s.clock.at(seconds),
            platform=s.platform,
        )


def test_guardian_danger_orders_the_code_0_units(engine: Engine) -> None:
    s = stage(engine)
    incident_id = s.sos()
    assert s.open_orders(incident_id) == ["태평로11"]
    _guardian_says(s, incident_id, Answer.DANGER, 10)
    incident = s.incident(incident_id)
    assert (incident.status, incident.priority) == (IncidentStatus.CONFIRMED, PriorityCode.CODE_0)
    # Code 0 = the first unit and the policy's two extra, ordered in the same transaction.
    assert s.open_orders(incident_id) == ["태평로11", "남대문21", "종로31"]
    (escalated,) = s.events("incident.escalated", incident_id)
    assert escalated["cause"] == "guardian_danger"
    assert escalated["priority"] == 0
    assert escalated["units_ordered"] == ["남대문21", "종로31"]
    assert escalated["waiting_for_units"] == 0
    assert "kidnapping" in str(escalated["reason"])  # the pupil is a child


def test_silence_until_the_deadline_converges_the_code_0_units(engine: Engine) -> None:
    """Issue 14 black-box: a terminal SOS, no guardian answer, 120 s later: code 0 with one unit."""
    s = stage(engine)
    incident_id = s.sos()
    s.acknowledge(incident_id, "태평로11", 5)
    assert s.fire(59) == 0
    assert s.fire(61) == 1  # the verification deadline, once
    incident = s.incident(incident_id)
    assert (incident.status, incident.priority) == (IncidentStatus.CONFIRMED, PriorityCode.CODE_0)
    assert s.open_orders(incident_id) == ["태평로11", "남대문21", "종로31"]
    (escalated,) = s.events("incident.escalated", incident_id)
    assert (escalated["cause"], escalated["units_ordered"]) == ("no_answer", ["남대문21", "종로31"])


def test_code_0_with_no_unit_free_waits_visibly_and_the_retry_orders_when_one_frees(
    engine: Engine,
) -> None:
    s = stage(engine)
    s.set_unit("종로31", UnitStatus.BUSY, 0)
    incident_id = s.sos()
    s.acknowledge(incident_id, "태평로11", 2)
    with s.platform.uow.begin() as session:
        lifecycle.change_priority_by_dispatcher(
            session,
            platform=s.platform,
            incident_id=incident_id,
            priority=PriorityCode.CODE_0,
            actor="dispatcher",
            reason="caller heard screaming",
            at=s.clock.at(10),
        )
    (escalated,) = s.events("incident.escalated", incident_id)
    assert escalated["cause"] == "dispatcher"
    assert escalated["units_ordered"] == ["남대문21"]
    assert escalated["waiting_for_units"] == 1  # the third unit is busy
    assert s.incident(incident_id).waiting_for_units == 1
    (waiting,) = s.events("incident.waiting_changed", incident_id)
    assert waiting["waiting_for_units"] == 1
    assert s.fire(19) == 0  # the retry is every 10 s
    s.set_unit("종로31", UnitStatus.AVAILABLE, 15)
    assert s.fire(20) >= 1
    assert s.open_orders(incident_id) == ["태평로11", "남대문21", "종로31"]
    assert s.incident(incident_id).waiting_for_units == 0
    assert s.events("incident.waiting_changed", incident_id)[-1]["waiting_for_units"] == 0


def test_the_duress_pin_escalates_with_units_and_looks_like_a_cancel(engine: Engine) -> None:
    s = stage(engine)
    incident_id = s.sos()
    verdict = do_cancel_with_pin(
        s.platform,
        incident_id=incident_id,
        subscriber_id=s.world.subscriber_id,
        pin=DURESS_PIN,
        actor="app:test",
        at=s.clock.at(5),
    )
    assert verdict is PinVerdict.DURESS
    incident = s.incident(incident_id)
    assert incident.duress
    assert incident.is_open
    assert incident.priority == PriorityCode.CODE_0
    assert s.open_orders(incident_id) == ["태평로11", "남대문21", "종로31"]
    (escalated,) = s.events("incident.escalated", incident_id)
    assert escalated["cause"] == "duress"
    # The units already on it go on; the dispatcher is not asked to stand them down.
    assert s.events("incident.stand_down_requested", incident_id) == []
