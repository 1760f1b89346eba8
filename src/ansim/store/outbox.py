"""The transactional outbox: events written with the change, published only after commit.

Writers commit concurrently (no cluster-wide lock), so neither id order nor transaction id order
is commit order. Two things keep every reader complete and ordered:

- **Completeness by the visibility horizon.** On PostgreSQL each row keeps its writer's transaction
  id (`xid`). `horizon()` is `pg_snapshot_xmin(pg_current_snapshot())`: every transaction below it
  has ended, so the rows with `xid < horizon` are a complete, final set. A cursor is a horizon, not
  an id: "I have every event below H"; resuming reads the rows at or above H again (readers drop
  duplicates by id). On SQLite one writer commits at a time, so the id is the position and the
  horizon is the newest id + 1.
- **Order per incident (or unit) by its own sequence.** `emit` takes the next number of the
  incident's `event_seq` (or the unit's, for a unit's own events) with an UPDATE, whose row lock
  the writer holds until commit: the numbers follow commit order, and since the outbox id is drawn
  after the lock, so do the ids of one incident's events. Readers that read everything visible in
  id order (relay, tail, stream catch-up) therefore deliver each incident's events in order; a
  board holds a later number until the earlier arrives.

Lock order (one for every command): the incident's row before a unit's row; `emit` for an incident
locks only the incident.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ansim.domain.events import EventEnvelope, event_version, validate_event
from ansim.domain.incidents import IncidentEvent
from ansim.store.tables import incidents, outbox, units
from ansim.store.uow import wake_after_commit

# xid8 has no cast to bigint; through text it is exact (xids stay far below 2^63).
_CURRENT_XID = sa.text("pg_current_xact_id()::text::bigint")
_SNAPSHOT_XMIN = sa.text("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")


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
    payload = validate_event(event_type, data)
    wake_after_commit(session)
    values: dict[str, Any] = {
        "type": event_type,
        "version": event_version(event_type),
        "at": at,
        "incident_id": incident_id,
        "unit_id": unit_id,
        "data": payload,
    }
    if _on_postgres(session) and (incident_id is not None or unit_id is not None):
        _emit_in_one_statement(session, values)
        return
    values["seq"] = _next_seq(session, incident_id, unit_id)
    if _on_postgres(session):
        values["xid"] = _CURRENT_XID
        session.execute(outbox.insert().values(**values))
        return
    # Parameters, not `.values(...)`: the statement is built and compiled once, not per event.
    session.execute(_INSERT_ROW, values)


def _emit_in_one_statement(session: Session, values: dict[str, Any]) -> None:
    """PostgreSQL: the sequence bump and the row in one statement (a data-modifying CTE).

    An SOS emits about nine events; a round trip each for the UPDATE and the INSERT was a quarter
    of its statements. The same order holds: the UPDATE takes the row's lock and the number
    before the INSERT draws the outbox id.
    """
    table = incidents if values["incident_id"] is not None else units
    insert = _INSERT_WITH_BUMP[table.name]
    if session.execute(insert, values).first() is None:
        # The row may still be pending in the session (a new incident): a Core statement does
        # not flush the ORM, so flush once and try again.
        session.flush()
        if session.execute(insert, values).first() is None:
            # No such row (a deadline about a subject that is gone): the event still leaves,
            # without a sequence, as the two-statement path sends it. Never dropped.
            session.execute(outbox.insert().values(**values, seq=None, xid=_CURRENT_XID))


def record(session: Session, entry: IncidentEvent, event_type: str, data: dict[str, Any]) -> None:
    """Appends `entry` to the incident timeline and queues the matching event."""
    session.add(entry)
    emit(session, event_type, data, at=entry.at, incident_id=entry.incident_id)


def _next_seq(session: Session, incident_id: str | None, unit_id: str | None) -> int | None:
    """The next number of the incident's (else the unit's) event sequence, under that row's lock."""
    if incident_id is not None:
        table, key = incidents, incident_id
    elif unit_id is not None:
        table, key = units, unit_id
    else:
        return None
    bump = _BUMP[table.name]
    seq = session.execute(bump, {"key": key}).scalar_one_or_none()
    if seq is None:
        # The row may still be pending in the session (a new incident): a Core UPDATE does not
        # flush the ORM, so flush once and try again.
        session.flush()
        seq = session.execute(bump, {"key": key}).scalar_one_or_none()
    return None if seq is None else int(seq)


def _bump(table: sa.Table) -> sa.UpdateBase:
    return (
        table.update()
        .where(table.c.id == sa.bindparam("key"))
        .values(event_seq=table.c.event_seq + 1)
        .returning(table.c.event_seq)
    )


def _insert_with_bump(table: sa.Table) -> sa.Insert:
    key = table.c.id == sa.bindparam("unit_id" if table is units else "incident_id")
    bump = (
        table.update()
        .where(key)
        .values(event_seq=table.c.event_seq + 1)
        .returning(table.c.event_seq)
        .cte("bump")
    )
    names = ["type", "version", "at", "incident_id", "unit_id", "data"]
    row = sa.select(
        *(sa.bindparam(name, type_=outbox.c[name].type) for name in names),
        bump.c.event_seq,
        _CURRENT_XID,
    )
    # RETURNING tells whether a row went in: a driver's rowcount for INSERT ... SELECT is not
    # reliable (-1 through SQLAlchemy), and a missed "0 rows" silently dropped the event.
    return outbox.insert().from_select([*names, "seq", "xid"], row).returning(outbox.c.id)


# Built once: constructing the statements per event cost more CPU than running them on SQLite.
_BUMP = {table.name: _bump(table) for table in (incidents, units)}
_INSERT_ROW = outbox.insert()
_INSERT_WITH_BUMP = {table.name: _insert_with_bump(table) for table in (incidents, units)}


def _on_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _position(session: Session) -> sa.ColumnElement[Any]:
    """The column a horizon bounds: the writer's xid on PostgreSQL, the id on SQLite."""
    return outbox.c.xid if _on_postgres(session) else outbox.c.id


def horizon(session: Session) -> int:
    """Every event whose position is below this has committed (or never will) and is visible now."""
    if _on_postgres(session):
        return int(session.execute(_SNAPSHOT_XMIN).scalar_one())
    newest = session.execute(sa.select(sa.func.coalesce(sa.func.max(outbox.c.id), 0))).scalar_one()
    return int(newest) + 1


@dataclass(frozen=True)
class Catchup:
    """Events at or above a horizon, in id order, and the horizon they complete."""

    events: list[EventEnvelope]
    horizon: int
    # Ids of the events at or above `horizon`: a reader that resumes from it reads them again.
    above: frozenset[int]


def catch_up(
    session: Session,
    *,
    start: int,
    known: frozenset[int] | set[int] = frozenset(),
    page: int = 1000,
) -> Catchup:
    """Every visible event whose position is at or above `start` (a horizon a reader reached).

    The horizon is taken first: every transaction below it had ended before the read, so the read
    holds all of them. Rows above it that already committed come too, except the `known` ones (a
    reader that polls again passes the ids it already has above its horizon: while a long
    transaction holds the horizon back, only ids and positions are read again, not whole events).
    """
    reached = horizon(session)
    position = _position(session)
    marks = session.execute(
        sa.select(outbox.c.id, position).where(position >= start).order_by(outbox.c.id)
    ).all()
    above = frozenset(event_id for event_id, at in marks if at >= reached)
    wanted = [event_id for event_id, _ in marks if event_id not in known]
    events: list[EventEnvelope] = []
    for first in range(0, len(wanted), page):
        rows = session.execute(
            sa.select(outbox)
            .where(outbox.c.id.in_(wanted[first : first + page]))
            .order_by(outbox.c.id)
        ).mappings()
        events.extend(_envelope(row) for row in rows)
    return Catchup(events, reached, above)


def unpublished(session: Session, *, limit: int = 500) -> list[EventEnvelope]:
    """Committed events the relay has not published yet, in id order (so each incident's in order)."""
    rows = session.execute(
        sa.select(outbox).where(outbox.c.published_at.is_(None)).order_by(outbox.c.id).limit(limit)
    ).mappings()
    return [_envelope(row) for row in rows]


def mark_published(session: Session, ids: list[int], *, at: datetime) -> None:
    session.execute(outbox.update().where(outbox.c.id.in_(ids)).values(published_at=at))


def since(session: Session, *, after_id: int, limit: int = 1000) -> list[EventEnvelope]:
    """Events after `after_id` in id order: for tools and tests; a live cursor is a horizon."""
    rows = session.execute(
        sa.select(outbox).where(outbox.c.id > after_id).order_by(outbox.c.id).limit(limit)
    ).mappings()
    return [_envelope(row) for row in rows]


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
        seq=row["seq"],
        data=row["data"],
    )
