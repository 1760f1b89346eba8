"""A real-PIN cancel is final for everything that runs by itself (issue 14: "a real-PIN cancel is
overridden", "an SOS after a cancel is swallowed"); only a person escalates or orders after it."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine
from tests.lifecyclekit import DURESS_PIN, PIN, Stage, stage
from tests.verifykit import CONFIG

from ansim.domain.deliveries import DeliveryStatus
from ansim.domain.incidents import IncidentStatus, PriorityCode
from ansim.domain.verification import DispatcherDecision
from ansim.services import deliveries, verification
from ansim.services.app_accounts import PinVerdict
from ansim.services.cancel import do_cancel_with_pin, seen_by_person
from ansim.services.incident_commands import do_change_incident_status


def _cancel(s: Stage, incident_id: str, seconds: float, pin: str = PIN) -> PinVerdict:
    return do_cancel_with_pin(
        s.platform,
        incident_id=incident_id,
        subscriber_id=s.world.subscriber_id,
        pin=pin,
        actor="app:test",
        at=s.clock.at(seconds),
    )


def _guardian_link_sent(s: Stage, incident_id: str) -> None:
    """The notifier took the guardian's "police are on the way" text and the SMS gateway has it."""
    with s.platform.uow.begin() as session:
        for message in deliveries.claim_due(session, now=s.clock.now, lease=timedelta(minutes=1)):
            if message.incident_id == incident_id and message.template == "verification_link":
                deliveries.record_sent(
                    session,
                    delivery_id=message.id,
                    attempt=message.attempts,
                    provider_ref="sms",
                    at=s.clock.now,
                )


def test_a_real_pin_cancel_is_not_overridden_by_any_timer(engine: Engine) -> None:
    """Issue 14: after the cancel the guardian's "police are on the way" text was still delivered,
    30 s later the ack deadline ordered another unit, 60 s later verification made it code 0."""
    s = stage(engine)
    incident_id = s.sos()
    assert s.orders(incident_id) == [("태평로11", "ordered")]
    [link] = [m for m in s.messages(incident_id) if m.template == "verification_link"]
    assert link.status == DeliveryStatus.QUEUED
    assert _cancel(s, incident_id, 2) is PinVerdict.CANCEL
    # The unacknowledged order is withdrawn and the unit free again; the unsent text never leaves.
    assert s.orders(incident_id) == [("태평로11", "withdrawn")]
    [link] = [m for m in s.messages(incident_id) if m.template == "verification_link"]
    assert link.status == DeliveryStatus.DEAD
    assert s.fire(30) == 0  # no ack deadline left
    assert s.fire(61) == 0  # nor the verification deadline
    assert s.fire(600) == 0  # nor a dispatch retry
    incident = s.incident(incident_id)
    assert (incident.status, incident.priority) == (IncidentStatus.CANCELLED, PriorityCode.CODE_1)
    assert s.orders(incident_id) == [("태평로11", "withdrawn")]
    assert s.events("incident.escalated", incident_id) == []
    assert seen_by_person(incident.status, duress=incident.duress) == "cancelled"
    # The guardian was never told of the SOS, so is not told of its cancel either.
    assert [m.template for m in s.messages(incident_id)] == ["verification_link"]


def test_a_cancel_tells_guardians_once_and_asks_the_dispatcher_about_units_on_their_way(
    engine: Engine,
) -> None:
    s = stage(engine)
    incident_id = s.sos()
    _guardian_link_sent(s, incident_id)
    s.acknowledge(incident_id, "태평로11", 5)
    _cancel(s, incident_id, 8)
    (asked,) = s.events("incident.stand_down_requested", incident_id)
    assert [u["call_sign"] for u in asked["units"]] == ["태평로11"]  # type: ignore[attr-defined]
    # An acknowledged unit stays until a person decides: a cancel may be forced, or a mistake.
    assert s.open_orders(incident_id) == ["태평로11"]
    templates = [(m.template, m.status) for m in s.messages(incident_id)]
    assert templates == [
        ("verification_link", DeliveryStatus.SENT),
        ("sos_cancelled", DeliveryStatus.QUEUED),
    ]
    _cancel(s, incident_id, 9)  # a repeat changes nothing and tells nobody again
    assert len(s.messages(incident_id)) == 2
    assert len(s.events("incident.stand_down_requested", incident_id)) == 1
    assert s.fire(3600) == 0
    assert len(s.messages(incident_id)) == 2


def test_after_a_cancel_a_person_may_still_act(engine: Engine) -> None:
    s = stage(engine)
    incident_id = s.sos()
    _cancel(s, incident_id, 2)
    with s.platform.uow.begin() as session:
        verification.decide(
            session,
            incident_id=incident_id,
            decision=DispatcherDecision.STAND_DOWN,
            actor="dispatcher",
            reason="called the father",
            at=s.clock.at(20),
            platform=s.platform,
        )
    assert s.incident(incident_id).status == IncidentStatus.CANCELLED
    assert s.fire(3600) == 0


@pytest.mark.parametrize("ended_by", ["pin", "false_alarm"])
def test_an_sos_after_a_cancel_opens_a_new_linked_incident_dispatched_and_verified(
    engine: Engine, ended_by: str
) -> None:
    """Issue 14: SOS, real-PIN cancel, new SOS 2 s later was folded into the cancelled incident."""
    s = stage(engine)
    first = s.sos()
    if ended_by == "pin":
        _cancel(s, first, 1)
    else:
        from ansim.services import incidents

        with s.platform.uow.begin() as session:
            incidents.change_status(
                session,
                incident_id=first,
                status=IncidentStatus.FALSE_ALARM,
                actor="dispatcher",
                reason="pocket press",
                at=s.clock.at(1),
            )
    second = s.sos(3)
    assert second != first
    again = s.incident(second)
    assert again.previous_incident_id == first
    assert again.sos_count == 1
    assert again.status == IncidentStatus.VERIFYING  # dispatched, then guardians asked
    assert len(s.open_orders(second)) == 1
    (received,) = s.events("incident.received", second)
    assert received["previous_incident_id"] == first
    earlier = s.incident(first)
    assert earlier.sos_count == 1
    assert earlier.status in {IncidentStatus.CANCELLED, IncidentStatus.FALSE_ALARM}
    # A repeated press while the new one is open joins it, as before.
    assert s.sos(5) == second
    assert s.incident(second).sos_count == 2


def test_a_cancel_after_confirmed_danger_only_asks_the_dispatcher(engine: Engine) -> None:
    s = stage(engine)
    incident_id = s.sos()
    s.acknowledge(incident_id, "태평로11", 5)
    assert s.fire(61) == 1  # silence: danger confirmed, code 0, three units
    assert s.incident(incident_id).status == IncidentStatus.CONFIRMED
    assert _cancel(s, incident_id, 70) is PinVerdict.CANCEL
    incident = s.incident(incident_id)
    assert (incident.status, incident.priority) == (IncidentStatus.CONFIRMED, PriorityCode.CODE_0)
    assert len(s.open_orders(incident_id)) == 3  # nothing withdrawn: danger stands
    (asked,) = s.events("incident.stand_down_requested", incident_id)
    assert "after danger was confirmed" in str(asked["reason"])


def test_duress_after_a_real_cancel_reopens_the_incident_and_escalates(engine: Engine) -> None:
    s = stage(engine)
    incident_id = s.sos()
    _cancel(s, incident_id, 2)
    assert _cancel(s, incident_id, 4, pin=DURESS_PIN) is PinVerdict.DURESS
    incident = s.incident(incident_id)
    assert (incident.status, incident.priority) == (IncidentStatus.CONFIRMED, PriorityCode.CODE_0)
    assert incident.duress
    assert len(s.open_orders(incident_id)) == 3
    (escalated,) = s.events("incident.escalated", incident_id)
    assert escalated["cause"] == "duress"
    # The device shows what the real cancel showed, whatever happens now.
    assert seen_by_person(incident.status, duress=incident.duress) == "cancelled"


@pytest.mark.parametrize("tell_guardians", [True, False])
def test_under_duress_guardians_get_what_a_real_cancel_sends_them(
    engine: Engine, tell_guardians: bool
) -> None:
    """A guardian may be the attacker: by default they get the real cancel's notice; the setting
    ANSIM_VERIFY_DURESS_TELLS_GUARDIANS_CANCELLED=false leaves them untold (the dispatcher calls)."""
    config = dataclasses.replace(CONFIG, duress_tells_guardians_cancelled=tell_guardians)
    s = stage(engine, config=config)
    incident_id = s.sos()
    _guardian_link_sent(s, incident_id)
    _cancel(s, incident_id, 3, pin=DURESS_PIN)
    templates = [m.template for m in s.messages(incident_id)]
    if tell_guardians:
        assert templates == ["verification_link", "sos_cancelled"]
    else:
        assert templates == ["verification_link"]
    s.fire(3600)
    # Nothing else reaches the guardians, whatever the timers do.
    assert [m.template for m in s.messages(incident_id)] == templates


@pytest.mark.parametrize("ending", ["resolved", "closed"])
def test_duress_on_a_finished_case_opens_a_new_linked_code0_incident(
    engine: Engine, ending: str
) -> None:
    """A finished case cannot change, but a forced "cancel" means danger now: a new incident at
    code 0 with the code-0 units, where the person was last placed; the device sees what a real
    cancel of a finished case shows, and nobody is messaged (a real cancel sends nothing)."""
    s = stage(engine)
    finished_id = s.sos()
    path = ["on_scene", "resolved"] if ending == "resolved" else ["false_alarm", "closed"]
    for step, status in enumerate(path, start=1):
        s.clock.at(10 * step)
        do_change_incident_status(
            s.platform,
            incident_id=finished_id,
            status=IncidentStatus(status),
            reason="test",
            actor="dispatcher",
        )
    messages_before = len(s.messages(finished_id))

    assert _cancel(s, finished_id, 120, pin=DURESS_PIN) is PinVerdict.DURESS

    finished = s.incident(finished_id)
    assert finished.status == IncidentStatus(ending)
    assert finished.duress
    (received,) = [
        e for e in s.events("incident.received") if e["previous_incident_id"] == finished_id
    ]
    new_id = str(received["incident_id"])
    new = s.incident(new_id)
    assert (new.status, new.priority) == (IncidentStatus.CONFIRMED, PriorityCode.CODE_0)
    assert new.duress
    assert new.person_cancelled
    assert (new.lat, new.lon) == (finished.lat, finished.lon)
    assert new.located_at == finished.located_at  # its own age: the board shows how old it is
    # The code-0 rule's three units: ordered, or waited for (the finished case's unit may not have
    # cleared yet) with the durable retry.
    assert len(s.open_orders(new_id)) + new.waiting_for_units == 3
    assert len(s.open_orders(new_id)) >= 2
    (escalated,) = s.events("incident.escalated", new_id)
    assert escalated["cause"] == "duress"
    assert len(s.messages(finished_id)) == messages_before
    assert s.messages(new_id) == []
    # The device cannot tell it from the real PIN on a finished case.
    assert seen_by_person(finished.status, duress=True) == seen_by_person(
        finished.status, duress=False, person_cancelled=True
    )
    # Entered again (a retry), it opens nothing more.
    _cancel(s, finished_id, 130, pin=DURESS_PIN)
    linked = [e for e in s.events("incident.received") if e["previous_incident_id"] == finished_id]
    assert len(linked) == 1
