"""Silent notices on the wearer's own U-안심 terminal: help is coming, or the call-out has ended.

A notice is signed with the terminal's secret when it is queued (the secret is in the database,
the sender is not) and the signed JSON is the delivery's body: the notifier only publishes it.
Nothing here ever tells a wearer anything after a cancel with the PIN: under duress the device
must go on showing "cancelled", and a real cancel must look exactly the same.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ansim.domain.deliveries import Delivery, DeliveryChannel, DeliveryStatus, RecipientKind
from ansim.domain.errors import NotFound
from ansim.domain.incidents import Incident, IncidentStatus
from ansim.domain.terminals import Terminal
from ansim.intake import terminal_protocol as protocol
from ansim.notify.templates import render
from ansim.services import deliveries, people
from ansim.services.verification_config import VerificationConfig
from ansim.store.tables import assignments
from ansim.store.tables import terminals as terminals_table

HELP_COMING = "help_coming"
STOOD_DOWN = "stood_down"
_CALLED_OFF = {IncidentStatus.CANCELLED, IncidentStatus.FALSE_ALARM}
_NOT_LEFT = {DeliveryStatus.QUEUED, DeliveryStatus.FAILED, DeliveryStatus.SENDING}


class UnknownNotice(NotFound):
    """A notice_ack names a notice this terminal was never sent."""


def queue_help_coming(
    session: Session, *, incident: Incident, config: VerificationConfig | None, at: datetime
) -> int:
    """A unit is ordered for a person with a terminal: it vibrates "help is coming" (once)."""
    if config is None or not config.terminal_notices or incident.subscriber_id is None:
        return 0
    if (
        incident.person_cancelled
        or incident.duress
        or not incident.is_active
        or incident.status in _CALLED_OFF
    ):
        return 0
    ordered = sa.select(assignments.c.id).where(assignments.c.incident_id == incident.id)
    if session.execute(ordered.limit(1)).first() is None:
        return 0
    return sum(
        _queue(session, incident, terminal, HELP_COMING, at)
        for terminal in _terminals_of(session, incident.subscriber_id)
    )


def queue_stood_down(session: Session, *, incident: Incident, at: datetime) -> int:
    """The police stood down (false alarm): a terminal told "help is coming" hears it has ended.

    A help_coming notice that has not left yet is withdrawn instead: nothing to take back.
    """
    if (
        incident.person_cancelled
        or incident.duress
        or incident.status != IncidentStatus.FALSE_ALARM
    ):
        return 0
    queued = 0
    for notice in _notices(session, incident.id, HELP_COMING):
        if notice.status in _NOT_LEFT:
            deliveries.withdraw(session, delivery=notice, reason="the police stood down", at=at)
            continue
        terminal = session.get(Terminal, notice.address)
        if notice.status != DeliveryStatus.DEAD and terminal is not None and not terminal.disabled:
            queued += _queue(session, incident, terminal, STOOD_DOWN, at)
    return queued


def withdraw_pending(session: Session, *, incident_id: str, at: datetime) -> int:
    """The person cancelled with a PIN (real or duress, alike): notices not yet sent stay unsent."""
    withdrawn = 0
    for notice in _notices(session, incident_id, None):
        if notice.status in _NOT_LEFT:
            reason = "cancelled on the person's device"
            withdrawn += (
                deliveries.withdraw(session, delivery=notice, reason=reason, at=at) is not None
            )
    return withdrawn


def record_ack(session: Session, *, terminal_id: str, notice_id: str, at: datetime) -> Delivery:
    """The device confirms it showed the notice; a notice of another terminal is unknown here."""
    try:
        notice = deliveries.get(session, delivery_id=notice_id)
    except NotFound:
        raise UnknownNotice(f"no notice {notice_id} for terminal {terminal_id}") from None
    if notice.channel != DeliveryChannel.TERMINAL or notice.address != terminal_id:
        raise UnknownNotice(f"no notice {notice_id} for terminal {terminal_id}")
    return deliveries.record_delivered(session, delivery_id=notice.id, at=at)


def _queue(
    session: Session, incident: Incident, terminal: Terminal, kind: str, at: datetime
) -> int:
    dedupe_key = f"{incident.id}:{kind}:{terminal.id}"
    if deliveries.queued_before(session, dedupe_key):
        return 0
    language = _wearer_language(session, terminal.subscriber_id)
    text = render(kind, language)
    delivery_id = str(uuid.uuid4())
    signed = protocol.notice(
        terminal_id=terminal.id,
        notice_id=delivery_id,
        kind=kind,
        text=text.body,
        secret=terminal.secret,
    )
    deliveries.queue(
        session,
        delivery_id=delivery_id,
        channel=DeliveryChannel.TERMINAL,
        recipient_kind=RecipientKind.WEARER,
        recipient_id=terminal.subscriber_id,
        address=terminal.id,
        language=language,
        template=kind,
        subject=text.subject,
        body=json.dumps(signed, separators=(",", ":"), ensure_ascii=False),
        at=at,
        dedupe_key=dedupe_key,
        incident_id=incident.id,
        subscriber_id=terminal.subscriber_id,
    )
    return 1


def _terminals_of(session: Session, subscriber_id: str) -> list[Terminal]:
    query = sa.select(Terminal).where(
        terminals_table.c.subscriber_id == subscriber_id, terminals_table.c.disabled.is_(False)
    )
    return list(session.execute(query.order_by(terminals_table.c.id)).scalars())


def _notices(session: Session, incident_id: str, kind: str | None) -> list[Delivery]:
    return [
        d
        for d in deliveries.for_incident(session, incident_id=incident_id)
        if d.channel == DeliveryChannel.TERMINAL and (kind is None or d.template == kind)
    ]


def _wearer_language(session: Session, subscriber_id: str) -> str:
    """The family's language: that of the first guardian to call (people have none of their own)."""
    guardians = people.guardians_of(session, subscriber_id=subscriber_id)
    return guardians[0].language if guardians else "ko"
