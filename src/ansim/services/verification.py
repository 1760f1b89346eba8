"""Verification commands: start after dispatch, record answers and calls, decide, fire the fail-safe deadline."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ansim.domain.errors import Conflict, NotFound
from ansim.domain.incidents import (
    TRANSITIONS,
    Channel,
    EscalationCause,
    Incident,
    IncidentEvent,
    IncidentStatus,
)
from ansim.domain.verification import (
    Answer,
    AnswerSource,
    Decision,
    DispatcherDecision,
    Verification,
    VerificationState,
    decide_by_dispatcher,
    decide_on_answer,
    decide_on_deadline,
    is_child,
)
from ansim.services import alerts, incidents, people, terminal_notices
from ansim.services.escalation import escalate_to_code0
from ansim.services.platform import Platform, transaction
from ansim.services.verification_config import VerificationConfig
from ansim.store import deadlines, outbox
from ansim.store.deadlines import Deadline
from ansim.store.tables import verification_answers, verifications

ANSWER_DEADLINE = "verification.answer"
VERIFIER = "verification"
TIMER = "verification-timer"


def get(session: Session, *, incident_id: str, for_update: bool = False) -> Verification | None:
    query = sa.select(Verification).where(verifications.c.incident_id == incident_id)
    if for_update:
        query = query.with_for_update()
    return session.execute(query).scalar_one_or_none()


def after_sos(
    session: Session, *, incident: Incident, config: VerificationConfig, at: datetime
) -> None:
    """What a new SOS sets off here: terminal alerts at once, verification once a unit is ordered."""
    if incident.channel == Channel.TERMINAL:
        alerts.alert_terminal_sos(session, incident=incident, config=config, at=at)
    if incident.status == IncidentStatus.DISPATCHED:
        start(session, incident_id=incident.id, config=config, actor=VERIFIER, at=at)
    terminal_notices.queue_help_coming(session, incident=incident, config=config, at=at)


def start(
    session: Session, *, incident_id: str, config: VerificationConfig, actor: str, at: datetime
) -> Verification | None:
    """Starts verifying a registered person's dispatched incident (once); None when there is nothing to verify."""
    incident = incidents.get(session, incident_id=incident_id, for_update=True)
    if incident.subscriber_id is None or not incident.is_open:
        return None
    if get(session, incident_id=incident.id) is not None:
        return None
    verification = Verification(
        id=str(uuid.uuid4()),
        incident_id=incident.id,
        state=VerificationState.PENDING,
        started_at=at,
        due_at=at + config.answer_timeout,
    )
    session.add(verification)
    if incident.status != IncidentStatus.VERIFYING and (
        IncidentStatus.VERIFYING in TRANSITIONS[incident.status]
    ):
        incidents.change_status(
            session,
            incident_id=incident.id,
            status=IncidentStatus.VERIFYING,
            actor=actor,
            reason="guardians are being contacted",
            at=at,
        )
    deadlines.schedule(
        session,
        kind=ANSWER_DEADLINE,
        subject_id=incident.id,
        due_at=verification.due_at,
        at=at,
        data={"verification_id": verification.id},
    )
    template = "terminal_sos" if incident.channel == Channel.TERMINAL else "verification_link"
    guardians = people.guardians_of(session, subscriber_id=incident.subscriber_id)
    if not (incident.duress and config.duress_tells_guardians_cancelled):
        # After a duress PIN the guardians were told "cancelled": nothing contradicts it.
        alerts.queue_guardian_links(
            session,
            incident=incident,
            template=template,
            config=config,
            at=at,
            guardians=guardians,
        )
    guardian_count = len(guardians)
    entry = IncidentEvent(
        incident.id,
        "verification_started",
        at,
        actor,
        {"due_at": verification.due_at.isoformat(), "guardians": guardian_count},
    )
    outbox.record(
        session,
        entry,
        "verification.started",
        {
            "incident_id": incident.id,
            "verification_id": verification.id,
            "due_at": verification.due_at,
            "guardians": guardian_count,
        },
    )
    session.flush()
    return verification


def record_answer(
    session: Session,
    *,
    incident_id: str,
    recipient_id: str,
    source: AnswerSource,
    answer: Answer,
    actor: str,
    at: datetime,
    platform: Platform,
) -> Verification:
    """Records one answer in the timeline and applies the policy; a link answers only once."""
    incident = incidents.get(session, incident_id=incident_id, for_update=True)
    verification = get(session, incident_id=incident_id, for_update=True)
    if verification is None:
        # An alert link can be answered before any unit is free: danger must still count.
        verification = start(
            session, incident_id=incident_id, config=platform.verification, actor=VERIFIER, at=at
        )
        if verification is None:
            raise Conflict("this incident is no longer being verified")
    once_key = f"{incident_id}:{recipient_id}" if source == AnswerSource.GUARDIAN_PAGE else None
    if (
        once_key is not None
        and session.execute(
            sa.select(verification_answers.c.id).where(verification_answers.c.once_key == once_key)
        ).first()
    ):
        raise Conflict("this link has already been used to answer")
    session.execute(
        verification_answers.insert().values(
            incident_id=incident_id,
            recipient_id=recipient_id,
            source=source.value,
            answer=answer.value,
            actor=actor,
            at=at,
            once_key=once_key,
        )
    )
    kind = "guardian_answered" if source == AnswerSource.GUARDIAN_PAGE else "guardian_called"
    entry = IncidentEvent(
        incident_id,
        kind,
        at,
        actor,
        {"recipient_id": recipient_id, "source": source.value, "answer": answer.value},
    )
    outbox.record(
        session,
        entry,
        "verification.answered",
        {"incident_id": incident_id, "actor": actor, **entry.data},
    )
    decision = decide_on_answer(verification, answer, duress=incident.duress, who=actor)
    if decision is not None:
        _apply(session, platform, incident, verification, decision, actor=actor, at=at)
    session.flush()
    return verification


def record_call(
    session: Session,
    *,
    incident_id: str,
    guardian_id: str,
    outcome: Answer,
    actor: str,
    at: datetime,
    platform: Platform,
) -> Verification:
    """A dispatcher's call to a guardian and what came of it."""
    incident = incidents.get(session, incident_id=incident_id)
    guardian_ids = {
        g.id for g in people.guardians_of(session, subscriber_id=incident.subscriber_id or "")
    }
    if guardian_id not in guardian_ids:
        raise NotFound(f"no guardian {guardian_id} for this incident's person")
    return record_answer(
        session,
        incident_id=incident_id,
        recipient_id=guardian_id,
        source=AnswerSource.DISPATCHER_CALL,
        answer=outcome,
        actor=actor,
        at=at,
        platform=platform,
    )


def decide(
    session: Session,
    *,
    incident_id: str,
    decision: DispatcherDecision,
    actor: str,
    reason: str,
    at: datetime,
    platform: Platform,
) -> Verification:
    """A dispatcher's decision on a stand-down request; units are cleared by their own commands."""
    incident = incidents.get(session, incident_id=incident_id, for_update=True)
    verification = get(session, incident_id=incident_id, for_update=True)
    if verification is None:
        raise NotFound("no verification for this incident")
    chosen = decide_by_dispatcher(verification, decision)
    if reason:
        chosen = Decision(chosen.state, f"{chosen.reason}: {reason}")
    _apply(session, platform, incident, verification, chosen, actor=actor, at=at)
    session.flush()
    return verification


def do_fire_answer_deadline(
    platform: Platform, *, deadline: Deadline, at: datetime, session: Session | None = None
) -> None:
    """The guardians had their time: silence counts as danger (in the scheduler's claim transaction).

    A person got there first (a cancel, a dispatcher's decision, an answer): it does nothing.
    """
    with transaction(platform, session) as tx:
        # Lock order (ansim.store.locks): the incident before its verification, as every command.
        incident = incidents.get(tx, incident_id=deadline.subject_id, for_update=True)
        verification = get(tx, incident_id=incident.id, for_update=True)
        if verification is None:
            return
        seconds = (verification.due_at - verification.started_at).total_seconds()
        decision = decide_on_deadline(verification, seconds=seconds)
        if decision is not None and incident.is_open:
            _apply(tx, platform, incident, verification, decision, actor=TIMER, at=at)


def _apply(
    session: Session,
    platform: Platform,
    incident: Incident,
    verification: Verification,
    decision: Decision,
    *,
    actor: str,
    at: datetime,
) -> None:
    verification.state, verification.reason = decision.state, decision.reason
    verification.decided_at = at
    verification.stand_down_requested = decision.stand_down_requested
    deadlines.cancel(session, kind=ANSWER_DEADLINE, subject_id=incident.id, at=at)
    if decision.state == VerificationState.DANGER:
        cause = EscalationCause.NO_ANSWER if actor == TIMER else EscalationCause.GUARDIAN_DANGER
        _escalate(session, platform, incident, decision.reason, cause, actor=actor, at=at)
    elif decision.state == VerificationState.STOOD_DOWN:
        _move(session, incident, IncidentStatus.FALSE_ALARM, decision.reason, actor, at)
    entry = IncidentEvent(
        incident.id,
        "verification_decided",
        at,
        actor,
        {
            "state": decision.state.value,
            "reason": decision.reason,
            "stand_down_requested": decision.stand_down_requested,
        },
    )
    outbox.record(
        session,
        entry,
        "verification.decided",
        {"incident_id": incident.id, "priority": int(incident.priority), **entry.data},
    )


def _escalate(
    session: Session,
    platform: Platform,
    incident: Incident,
    reason: str,
    cause: EscalationCause,
    *,
    actor: str,
    at: datetime,
) -> None:
    """Danger confirmed: status confirmed, code 0 (suspected kidnapping for a child) and its units."""
    if incident.subscriber_id is not None:
        person = people.get_subscriber(session, subscriber_id=incident.subscriber_id)
        if is_child(person.birth_year, at):
            reason = f"suspected kidnapping (child): {reason}"
    _move(session, incident, IncidentStatus.CONFIRMED, reason, actor, at)
    escalate_to_code0(
        session,
        platform=platform,
        incident=incident,
        cause=cause,
        reason=reason,
        actor=actor,
        at=at,
    )


def _move(
    session: Session,
    incident: Incident,
    status: IncidentStatus,
    reason: str,
    actor: str,
    at: datetime,
) -> None:
    if incident.status != status and status in TRANSITIONS[incident.status]:
        incidents.change_status(
            session, incident_id=incident.id, status=status, actor=actor, reason=reason, at=at
        )


def answers(session: Session, *, incident_id: str) -> list[dict[str, object]]:
    query = (
        sa.select(verification_answers)
        .where(verification_answers.c.incident_id == incident_id)
        .order_by(verification_answers.c.id)
    )
    return [dict(row) for row in session.execute(query).mappings()]
