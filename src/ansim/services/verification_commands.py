"""Verification commands: a dispatcher starts it, logs calls and decides; a guardian answers on the page;
the SMS provider reports a delivery. The board, the guardian page and the simulation call these."""

from __future__ import annotations

from sqlalchemy.orm import Session

from ansim.domain.deliveries import Delivery
from ansim.domain.verification import Answer, DispatcherDecision, Verification
from ansim.security import audit
from ansim.services import deliveries, guardian_page, verification
from ansim.services.audit_trail import audited, name_of
from ansim.services.guardian_page import GuardianView
from ansim.services.platform import Platform, transaction


def do_start_verification(
    platform: Platform,
    *,
    incident_id: str,
    actor: str | audit.Actor,
    session: Session | None = None,
) -> Verification | None:
    """Starts verification by hand (it starts by itself when a unit is ordered); again is a no-op."""
    with audited(
        platform, actor=actor, action="verification.start", incident_id=incident_id, session=session
    ) as own:
        return verification.start(
            own,
            incident_id=incident_id,
            config=platform.verification,
            actor=name_of(actor),
            at=platform.now(),
        )


def do_record_guardian_call(
    platform: Platform,
    *,
    incident_id: str,
    guardian_id: str,
    outcome: Answer,
    actor: str | audit.Actor,
    session: Session | None = None,
) -> Verification:
    """A dispatcher's call to a guardian; danger escalates to code 0, a mistake asks to stand down."""
    with audited(
        platform,
        actor=actor,
        action="verification.call",
        incident_id=incident_id,
        subject=f"guardian:{guardian_id}",
        detail={"outcome": outcome.value},
        session=session,
    ) as own:
        return verification.record_call(
            own,
            incident_id=incident_id,
            guardian_id=guardian_id,
            outcome=outcome,
            actor=name_of(actor),
            at=platform.now(),
            platform=platform,
        )


def do_decide_verification(
    platform: Platform,
    *,
    incident_id: str,
    decision: DispatcherDecision,
    reason: str,
    actor: str | audit.Actor,
    session: Session | None = None,
) -> Verification:
    """A dispatcher's decision on a stand-down request: stand down (false alarm) or continue."""
    with audited(
        platform,
        actor=actor,
        action="verification.decision",
        incident_id=incident_id,
        detail={"decision": decision.value, "reason": reason},
        session=session,
    ) as own:
        return verification.decide(
            own,
            incident_id=incident_id,
            decision=decision,
            actor=name_of(actor),
            reason=reason,
            at=platform.now(),
            platform=platform,
        )


def do_answer_as_guardian(
    platform: Platform, *, token: str, answer: Answer, session: Session | None = None
) -> GuardianView:
    """A guardian's one answer from the link's page (the token is checked inside)."""
    with transaction(platform, session) as own:
        return guardian_page.answer(
            own, token=token, answer=answer, platform=platform, now=platform.now()
        )


def do_record_delivery_report(
    platform: Platform,
    *,
    message_id: str,
    delivered: bool,
    error: str,
    session: Session | None = None,
) -> Delivery:
    """A provider's delivery report; a repeated or stale report changes nothing."""
    with transaction(platform, session) as own:
        return deliveries.record_report(
            own,
            message_id=message_id,
            delivered=delivered,
            error=error,
            retry=platform.verification.retry,
            at=platform.now(),
        )
