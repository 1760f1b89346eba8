"""Direct alerts: a terminal SOS to the wearer's guardians and school guard; terminal trouble notices."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from ansim.domain.deliveries import RecipientKind
from ansim.domain.errors import InvalidInput
from ansim.domain.incidents import Incident, IncidentEvent
from ansim.domain.people import Guardian
from ansim.domain.school_guards import SchoolGuard
from ansim.services import deliveries, people, school_guards
from ansim.services.deliveries import Recipient
from ansim.services.verification_config import VerificationConfig

TERMINAL_PROBLEMS = ("terminal_lost", "low_battery")
DEFAULT_NOTICE_INTERVAL = timedelta(minutes=30)
ALERTER = "guardian-alerts"


def guardian_recipient(guardian: Guardian) -> Recipient:
    return Recipient(
        RecipientKind.GUARDIAN, guardian.id, guardian.phone, guardian.email, guardian.language
    )


def school_guard_recipient(guard: SchoolGuard) -> Recipient:
    return Recipient(RecipientKind.SCHOOL_GUARD, guard.id, guard.phone, guard.email, guard.language)


def link_key(incident_id: str) -> str:
    """One live-page message per recipient and incident, whatever asked for it first."""
    return f"{incident_id}:link"


def queue_guardian_links(
    session: Session,
    *,
    incident: Incident,
    template: str,
    config: VerificationConfig,
    at: datetime,
    guardians: Sequence[Guardian] | None = None,
) -> int:
    """Sends each guardian of the incident's person a message with their own live-page link.

    `guardians`: the person's guardians when the caller has read them already."""
    if incident.subscriber_id is None:
        return 0
    subscriber = people.get_subscriber(session, subscriber_id=incident.subscriber_id)
    if guardians is None:
        guardians = people.guardians_of(session, subscriber_id=subscriber.id)
    queued = 0
    for guardian in guardians:
        link = config.link(
            incident_id=incident.id, recipient_id=guardian.id, kind=RecipientKind.GUARDIAN, at=at
        )
        queued += len(
            deliveries.queue_message(
                session,
                recipient=guardian_recipient(guardian),
                template=template,
                values={"name": subscriber.name, "link": link},
                at=at,
                dedupe_key=link_key(incident.id),
                incident_id=incident.id,
                subscriber_id=subscriber.id,
            )
        )
    return queued


def alert_terminal_sos(
    session: Session, *, incident: Incident, config: VerificationConfig, at: datetime
) -> int:
    """U-안심: the wearer's guardians and the school guard on duty hear of the SOS at once."""
    if incident.subscriber_id is None:
        return 0
    subscriber = people.get_subscriber(session, subscriber_id=incident.subscriber_id)
    to_guardians = queue_guardian_links(
        session, incident=incident, template="terminal_sos", config=config, at=at
    )
    guards = school_guards.on_duty(session, school=subscriber.school, at=at)
    to_guards = 0
    for guard in guards:
        link = config.link(
            incident_id=incident.id, recipient_id=guard.id, kind=RecipientKind.SCHOOL_GUARD, at=at
        )
        to_guards += len(
            deliveries.queue_message(
                session,
                recipient=school_guard_recipient(guard),
                template="school_guard_sos",
                values={"name": subscriber.name, "school": subscriber.school, "link": link},
                at=at,
                dedupe_key=link_key(incident.id),
                incident_id=incident.id,
                subscriber_id=subscriber.id,
            )
        )
    session.add(
        IncidentEvent(
            incident.id,
            "alerts_queued",
            at,
            ALERTER,
            {
                "guardian_messages": to_guardians,
                "school_guards": len(guards),
                "school_guard_messages": to_guards,
            },
        )
    )
    return to_guardians + to_guards


def notify_guardians_of_terminal_problem(
    session: Session,
    *,
    subscriber_id: str,
    kind: str,
    at: datetime,
    min_interval: timedelta = DEFAULT_NOTICE_INTERVAL,
) -> int:
    """Tells the guardians a terminal went silent or runs low, at most once per `min_interval` and kind."""
    if kind not in TERMINAL_PROBLEMS:
        raise InvalidInput(f"terminal problem must be one of {', '.join(TERMINAL_PROBLEMS)}")
    latest = deliveries.latest_for_subscriber(session, subscriber_id=subscriber_id, template=kind)
    if latest is not None and at - latest < min_interval:
        return 0
    subscriber = people.get_subscriber(session, subscriber_id=subscriber_id)
    queued = 0
    for guardian in people.guardians_of(session, subscriber_id=subscriber_id):
        queued += len(
            deliveries.queue_message(
                session,
                recipient=guardian_recipient(guardian),
                template=kind,
                values={"name": subscriber.name},
                at=at,
                dedupe_key=f"{subscriber_id}:{kind}:{at.isoformat()}",
                subscriber_id=subscriber_id,
            )
        )
    return queued
