"""What a guardian (or school guard) link may see and do: one incident, live location, one answer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from ansim.domain import guardian_links
from ansim.domain.deliveries import RecipientKind
from ansim.domain.errors import Forbidden, InvalidInput, NotFound
from ansim.domain.guardian_links import GuardianLink
from ansim.domain.incidents import Incident, IncidentStatus
from ansim.domain.verification import Answer, AnswerSource
from ansim.services import incidents, people, school_guards, verification
from ansim.services.platform import Platform
from ansim.services.verification_config import VerificationConfig

_ENDED = {IncidentStatus.RESOLVED, IncidentStatus.CLOSED}
_CALLED_OFF = {IncidentStatus.CANCELLED, IncidentStatus.FALSE_ALARM}


@dataclass(frozen=True)
class GuardianView:
    incident_id: str
    recipient_kind: RecipientKind
    person_name: str
    # What the page says: "active" (police are handling it), "called_off", "ended".
    situation: str
    location: dict[str, Any] | None
    can_answer: bool
    answered: str | None
    expires_at: datetime


def access(
    session: Session, *, token: str, config: VerificationConfig, now: datetime
) -> tuple[GuardianLink, Incident]:
    """The link and its incident; Forbidden when forged, expired, or not for this incident's person."""
    link = guardian_links.verify(token, config.link_key, now=now)
    try:
        incident = incidents.get(session, incident_id=link.incident_id)
    except NotFound:
        raise Forbidden("this link is not for any incident") from None
    if incident.subscriber_id is None:
        raise Forbidden("this link is not for this incident")
    person = people.get_subscriber(session, subscriber_id=incident.subscriber_id)
    if link.recipient_kind == RecipientKind.GUARDIAN:
        allowed = {g.id for g in people.guardians_of(session, subscriber_id=person.id)}
    else:
        allowed = {g.id for g in school_guards.list_all(session, school=person.school or "\x00")}
    if link.recipient_id not in allowed:
        raise Forbidden("this link is not for this incident")
    return link, incident


def view(
    session: Session, *, token: str, config: VerificationConfig, now: datetime
) -> GuardianView:
    link, incident = access(session, token=token, config=config, now=now)
    person = people.get_subscriber(session, subscriber_id=incident.subscriber_id or "")
    answered = next(
        (
            str(a["answer"])
            for a in verification.answers(session, incident_id=incident.id)
            if a["recipient_id"] == link.recipient_id and a["source"] == AnswerSource.GUARDIAN_PAGE
        ),
        None,
    )
    reads_as = situation(incident)
    return GuardianView(
        incident_id=incident.id,
        recipient_kind=link.recipient_kind,
        person_name=person.name,
        situation=reads_as,
        # Once the case is called off or over, the link no longer tracks the person.
        location=incidents.location_of(incident) if reads_as == "active" else None,
        can_answer=link.recipient_kind == RecipientKind.GUARDIAN
        and answered is None
        and reads_as == "active",
        answered=answered,
        expires_at=link.expires_at,
    )


def situation(incident: Incident) -> str:
    """How the case reads to a guardian: a duress cancel reads exactly as a real cancel.

    A guardian may be the one forcing the cancel; the dispatcher calls the guardians instead.
    """
    if incident.status in _ENDED:
        return "ended"
    if incident.status in _CALLED_OFF or incident.duress:
        return "called_off"
    return "active"


def answer(
    session: Session, *, token: str, answer: Answer, platform: Platform, now: datetime
) -> GuardianView:
    """Records the guardian's one answer from the page; replays and school-guard links are refused."""
    config = platform.verification
    link, incident = access(session, token=token, config=config, now=now)
    if link.recipient_kind != RecipientKind.GUARDIAN:
        raise Forbidden("this link shows the location only; answers come from guardians")
    if answer == Answer.NO_ANSWER:
        raise InvalidInput("a guardian answers safe or danger")
    if not incident.is_active:
        raise Forbidden("this case is closed; call 112 if you are worried")
    verification.record_answer(
        session,
        incident_id=incident.id,
        recipient_id=link.recipient_id,
        source=AnswerSource.GUARDIAN_PAGE,
        answer=answer,
        actor=f"guardian:{link.recipient_id}",
        at=now,
        platform=platform,
    )
    return view(session, token=token, config=config, now=now)
