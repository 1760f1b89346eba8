"""The transactional outbox: events written with the change, published only after commit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ansim.domain.events import EventEnvelope, event_version, validate_event
from ansim.domain.incidents import IncidentEvent
from ansim.store.tables import outbox
from ansim.store.uow import wake_after_commit


def emit(
    session: Session,
    event_type: str,
    data: dict[str, Any],
    *,
    at: datetime,
    incident_id: str | None = None,
    unit_id: str | None = None,
) -> None:
    """Queues an event in the current transaction; an invalid payload fails the command, not a board."""
    wake_after_commit(session)
    session.execute(
        outbox.insert().values(
            type=event_type,
            version=event_version(event_type),
            at=at,
            incident_id=incident_id,
            unit_id=unit_id,
            data=validate_event(event_type, data),
        )
    )


def record(session: Session, entry: IncidentEvent, event_type: str, data: dict[str, Any]) -> None:
    """Appends `entry` to the incident timeline and queues the matching event."""
    session.add(entry)
    emit(session, event_type, data, at=entry.at, incident_id=entry.incident_id)


def unpublished(session: Session, *, limit: int = 500) -> list[EventEnvelope]:
    rows = session.execute(
        sa.select(outbox).where(outbox.c.published_at.is_(None)).order_by(outbox.c.id).limit(limit)
    ).mappings()
    return [_envelope(row) for row in rows]


def mark_published(session: Session, ids: list[int], *, at: datetime) -> None:
    session.execute(outbox.update().where(outbox.c.id.in_(ids)).values(published_at=at))


def since(session: Session, *, after_id: int, limit: int = 1000) -> list[EventEnvelope]:
    """Committed events after `after_id`, for a board that reconnects and catches up."""
    rows = session.execute(
        sa.select(outbox).where(outbox.c.id > after_id).order_by(outbox.c.id).limit(limit)
    ).mappings()
    return [_envelope(row) for row in rows]


def newest_id(session: Session) -> int:
    """The id of the newest event (0 when none)."""
    return int(
        session.execute(sa.select(sa.func.coalesce(sa.func.max(outbox.c.id), 0))).scalar_one()
    )


def backlog(session: Session) -> int:
    """How many committed events wait for the relay."""
    return int(
        session.execute(
            sa.select(sa.func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
        ).scalar_one()
    )


def _envelope(row: sa.RowMapping) -> EventEnvelope:
    return EventEnvelope(
        id=row["id"],
        type=row["type"],
        version=row["version"],
        at=row["at"],
        incident_id=row["incident_id"],
        unit_id=row["unit_id"],
        data=row["data"],
    )


def latest_id(session: Session) -> int:
    """The id of the newest committed event (0 when there is none)."""
    return int(
        session.execute(sa.select(sa.func.coalesce(sa.func.max(outbox.c.id), 0))).scalar_one()
    )
