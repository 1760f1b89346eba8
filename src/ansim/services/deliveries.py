"""Delivery records: queue a message durably, claim it for sending, record what became of it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ansim.domain.deliveries import (
    FINAL,
    RETRYABLE,
    Delivery,
    DeliveryChannel,
    DeliveryStatus,
    RecipientKind,
    RetryPolicy,
    split_message_id,
)
from ansim.domain.errors import NotFound
from ansim.domain.incidents import IncidentEvent
from ansim.notify.templates import render
from ansim.store import outbox
from ansim.store.tables import deliveries

SYSTEM = "notifier"


@dataclass(frozen=True)
class Recipient:
    kind: RecipientKind
    id: str
    phone: str
    email: str
    language: str


def queue_message(
    session: Session,
    *,
    recipient: Recipient,
    template: str,
    values: dict[str, str],
    at: datetime,
    dedupe_key: str,
    incident_id: str | None = None,
    subscriber_id: str | None = None,
) -> list[str]:
    """Queues `template` by SMS (and e-mail where known); returns the ids of newly queued deliveries."""
    text = render(template, recipient.language, **values)
    queued = []
    for channel, address in (
        (DeliveryChannel.SMS, recipient.phone),
        (DeliveryChannel.EMAIL, recipient.email),
    ):
        if not address:
            continue
        delivery_id = queue(
            session,
            delivery_id=str(uuid.uuid4()),
            channel=channel,
            recipient_kind=recipient.kind,
            recipient_id=recipient.id,
            address=address,
            language=recipient.language,
            template=template,
            subject=text.subject,
            body=text.body,
            at=at,
            dedupe_key=f"{dedupe_key}:{recipient.id}:{channel.value}",
            incident_id=incident_id,
            subscriber_id=subscriber_id,
        )
        if delivery_id is not None:
            queued.append(delivery_id)
    return queued


def queue(
    session: Session,
    *,
    delivery_id: str,
    channel: DeliveryChannel,
    recipient_kind: RecipientKind,
    recipient_id: str,
    address: str,
    language: str,
    template: str,
    subject: str,
    body: str,
    at: datetime,
    dedupe_key: str,
    incident_id: str | None = None,
    subscriber_id: str | None = None,
) -> str | None:
    """Queues one finished message unless `dedupe_key` was queued before; returns its id if new."""
    if queued_before(session, dedupe_key):
        return None
    row: dict[str, Any] = {
        "id": delivery_id,
        "incident_id": incident_id,
        "subscriber_id": subscriber_id,
        "recipient_kind": recipient_kind,
        "recipient_id": recipient_id,
        "channel": channel,
        "address": address,
        "language": language,
        "template": template,
        "subject": subject,
        "body": body,
        "status": DeliveryStatus.QUEUED,
        "attempts": 0,
        "next_attempt_at": at,
        "created_at": at,
        "updated_at": at,
        "sent_at": None,
        "delivered_at": None,
        "provider_ref": "",
        "last_error": "",
        "dedupe_key": dedupe_key,
    }
    # A prebuilt statement with parameters; the event is made from the row just written
    # (reading it back decrypted three columns again for nothing).
    session.execute(_INSERT_DELIVERY, row)
    _emit(session, Delivery(**{name: row[name] for name in Delivery.__dataclass_fields__}), at)
    return delivery_id


_INSERT_DELIVERY = deliveries.insert()


def queued_before(session: Session, dedupe_key: str) -> bool:
    query = sa.select(deliveries.c.id).where(deliveries.c.dedupe_key == dedupe_key)
    return session.execute(query).first() is not None


def get(session: Session, *, delivery_id: str, for_update: bool = False) -> Delivery:
    query = sa.select(deliveries).where(deliveries.c.id == delivery_id)
    row = session.execute(query.with_for_update() if for_update else query).mappings().first()
    if row is None:
        raise NotFound(f"no delivery {delivery_id}")
    return _delivery(row)


def for_incident(session: Session, *, incident_id: str) -> list[Delivery]:
    query = sa.select(deliveries).where(deliveries.c.incident_id == incident_id)
    rows = session.execute(query.order_by(deliveries.c.created_at, deliveries.c.id)).mappings()
    return [_delivery(row) for row in rows]


def latest_for_subscriber(
    session: Session, *, subscriber_id: str, template: str
) -> datetime | None:
    query = sa.select(sa.func.max(deliveries.c.created_at)).where(
        deliveries.c.subscriber_id == subscriber_id, deliveries.c.template == template
    )
    latest: datetime | None = session.execute(query).scalar_one_or_none()
    return latest


def claim_due(
    session: Session, *, now: datetime, lease: timedelta, limit: int = 20
) -> list[Delivery]:
    """Leases due deliveries to this sender; a lease that runs out (crash) is taken up again."""
    due = sa.or_(
        deliveries.c.status.in_([s.value for s in RETRYABLE]),
        deliveries.c.status == DeliveryStatus.SENDING.value,
    )
    query = (
        sa.select(deliveries)
        .where(due, deliveries.c.next_attempt_at <= now)
        .order_by(deliveries.c.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    claimed = []
    for row in session.execute(query).mappings().all():
        # A re-claimed lease keeps its attempt number, so the receiver sees the same message id.
        attempts = row["attempts"] + (1 if row["status"] != DeliveryStatus.SENDING else 0)
        session.execute(
            deliveries.update()
            .where(deliveries.c.id == row["id"])
            .values(
                status=DeliveryStatus.SENDING,
                attempts=attempts,
                next_attempt_at=now + lease,
                updated_at=now,
            )
        )
        claimed.append(get(session, delivery_id=row["id"]))
    return claimed


def record_sent(
    session: Session, *, delivery_id: str, attempt: int, provider_ref: str, at: datetime
) -> Delivery | None:
    """The channel took the message; SMS then waits for the provider's delivery report."""
    delivery = get(session, delivery_id=delivery_id, for_update=True)
    if delivery.status != DeliveryStatus.SENDING or delivery.attempts != attempt:
        return None
    return _update(
        session,
        delivery,
        at,
        status=DeliveryStatus.SENT,
        sent_at=at,
        provider_ref=provider_ref[:200],
    )


def record_failure(
    session: Session,
    *,
    delivery_id: str,
    attempt: int,
    error: str,
    permanent: bool,
    retry: RetryPolicy,
    at: datetime,
) -> Delivery | None:
    """Schedules the next attempt with exponential backoff, or dead-letters the message."""
    delivery = get(session, delivery_id=delivery_id, for_update=True)
    if delivery.attempts != attempt or delivery.status not in {
        DeliveryStatus.SENDING,
        DeliveryStatus.SENT,
    }:
        return None
    if permanent or attempt >= retry.max_attempts:
        updated = _update(session, delivery, at, status=DeliveryStatus.DEAD, last_error=error[:500])
        _check_unreachable(session, updated, at)
        return updated
    return _update(
        session,
        delivery,
        at,
        status=DeliveryStatus.FAILED,
        next_attempt_at=at + retry.delay(attempt),
        last_error=error[:500],
    )


def record_report(
    session: Session,
    *,
    message_id: str,
    delivered: bool,
    error: str,
    retry: RetryPolicy,
    at: datetime,
) -> Delivery:
    """Applies a provider's delivery report; a repeated or stale report changes nothing."""
    parsed = split_message_id(message_id)
    if parsed is None:
        raise NotFound(f"no message {message_id}")
    if delivered:
        return record_delivered(session, delivery_id=parsed[0], at=at)
    delivery = get(session, delivery_id=parsed[0], for_update=True)
    if delivery.status in FINAL:
        return delivery
    failed = record_failure(
        session,
        delivery_id=delivery.id,
        attempt=parsed[1],
        error=f"provider: {error or 'not delivered'}",
        permanent=False,
        retry=retry,
        at=at,
    )
    return failed or delivery


def record_delivered(session: Session, *, delivery_id: str, at: datetime) -> Delivery:
    """The recipient's side confirmed it has the message; a repeat or a late one changes nothing."""
    delivery = get(session, delivery_id=delivery_id, for_update=True)
    if delivery.status in FINAL:
        return delivery
    updated = _update(session, delivery, at, status=DeliveryStatus.DELIVERED, delivered_at=at)
    _timeline(session, updated, "notification_delivered", at)
    return updated


def withdraw(session: Session, *, delivery: Delivery, reason: str, at: datetime) -> Delivery | None:
    """Stops a message that has not left yet (queued, retrying or leased): it becomes dead."""
    current = get(session, delivery_id=delivery.id, for_update=True)
    if current.status not in {*RETRYABLE, DeliveryStatus.SENDING}:
        return None
    return _update(
        session, current, at, status=DeliveryStatus.DEAD, last_error=f"withdrawn: {reason}"[:500]
    )


def _update(session: Session, delivery: Delivery, at: datetime, **values: Any) -> Delivery:
    session.execute(
        deliveries.update().where(deliveries.c.id == delivery.id).values(updated_at=at, **values)
    )
    updated = get(session, delivery_id=delivery.id)
    _emit(session, updated, at)
    return updated


def _emit(session: Session, delivery: Delivery, at: datetime) -> None:
    outbox.emit(
        session,
        "notification.status_changed",
        {
            "delivery_id": delivery.id,
            "incident_id": delivery.incident_id,
            "recipient_kind": delivery.recipient_kind.value,
            "recipient_id": delivery.recipient_id,
            "channel": delivery.channel.value,
            "template": delivery.template,
            "status": delivery.status.value,
            "attempts": delivery.attempts,
            "error": delivery.last_error,
        },
        at=at,
        incident_id=delivery.incident_id,
    )


def _check_unreachable(session: Session, dead: Delivery, at: datetime) -> None:
    """When every message to this recipient about the incident is dead, the board must know."""
    _timeline(session, dead, "notification_dead", at)
    if dead.incident_id is None or dead.recipient_kind == RecipientKind.WEARER:
        return  # the wearer is not someone the board must find another way to reach
    statuses = {
        d.status
        for d in for_incident(session, incident_id=dead.incident_id)
        if d.recipient_id == dead.recipient_id
    }
    if statuses != {DeliveryStatus.DEAD}:
        return
    entry = IncidentEvent(
        dead.incident_id,
        "guardian_unreachable",
        at,
        SYSTEM,
        {"recipient_kind": dead.recipient_kind.value, "recipient_id": dead.recipient_id},
    )
    outbox.record(
        session,
        entry,
        "verification.guardian_unreachable",
        {"incident_id": dead.incident_id, **entry.data},
    )


def _timeline(session: Session, delivery: Delivery, kind: str, at: datetime) -> None:
    if delivery.incident_id is None:
        return
    session.add(
        IncidentEvent(
            delivery.incident_id,
            kind,
            at,
            SYSTEM,
            {
                "delivery_id": delivery.id,
                "recipient_kind": delivery.recipient_kind.value,
                "recipient_id": delivery.recipient_id,
                "channel": delivery.channel.value,
                "attempts": delivery.attempts,
                "error": delivery.last_error,
            },
        )
    )


def _delivery(row: sa.RowMapping) -> Delivery:
    return Delivery(**{name: row[name] for name in Delivery.__dataclass_fields__})
