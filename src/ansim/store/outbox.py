"""The transactional outbox: events written with the change, published only after commit.

Writers commit concurrently (no cluster-wide lock), so neither id order nor transaction id order
is commit order. Two things keep every reader complete and ordered:

- **Completeness by the visibility horizon.** On PostgreSQL each row keeps its writer's transaction
  id (`xid`). `horizon()` is `pg_snapshot_xmin(pg_current_snapshot())`: every transaction below it
  has ended, so the rows with `xid < horizon` are a complete, final set. A cursor is a horizon, not
  an id: "I have every event below H"; resuming reads the rows at or above H again (readers drop
  duplicates by id). On SQLite one writer commits at a time, so the id is the position and the
  horizon is the newest id + 1.
- **Order per incident (or unit) by its own sequence.** An event takes the next number of the
  incident's `event_seq` (or the unit's, for a unit's own events) under that row's lock, which the
  writer holds until commit: the numbers follow commit order, and since the outbox ids are drawn
  after the lock, so do the ids of one incident's events. Readers that read everything visible in
  id order (relay, tail, stream catch-up) therefore deliver each incident's events in order; a
  board holds a later number until the earlier arrives.

Lock order (one for every command): the incident's row before a unit's row; `emit` for an incident
locks only the incident, and does so when it is called (the first time in a transaction).

**Rows written at commit.** An SOS emits about nine events; a statement or two each was a fifth of
its statements. `emit` queues the row in the session (on PostgreSQL after locking the subject's
row, `FOR NO KEY UPDATE` as the sequence's UPDATE would); at commit each subject's sequence moves
by its count in one UPDATE, still under the lock, and all the transaction's rows go in one
multi-row INSERT whose ids follow the order of emission (`sort_by_parameter_order`). On SQLite the
writer holds the whole database, so nothing is locked per row. A savepoint that rolls back drops
the events queued inside it and forgets the locks taken inside it (they went with it).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

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
    queue = session.info.get(_QUEUE)
    if queue is None:
        queue = session.info[_QUEUE] = _Queue()
    subject = _subject(incident_id, unit_id)
    if (
        subject is not None
        and subject not in queue.held
        and _on_postgres(session)
        and _lock(session, subject)
    ):
        queue.held.add(subject)
    queue.rows.append((subject, values))


def _lock(session: Session, subject: Subject) -> bool:
    """PostgreSQL: takes the subject's row lock now (its number is taken at commit, under it).

    True when the row is there and locked. FOR NO KEY UPDATE, the lock an UPDATE of the sequence
    takes: rows that only refer to the incident (timeline, fixes) are not held up by it.
    """
    table, key = subject
    lock = _LOCK[table]
    if session.execute(lock, {"key": key}).first() is not None:
        return True
    # The row may still be pending in the session (a new incident): a Core statement does not
    # flush the ORM, so flush once and try again.
    session.flush()
    return session.execute(lock, {"key": key}).first() is not None


def record(session: Session, entry: IncidentEvent, event_type: str, data: dict[str, Any]) -> None:
    """Appends `entry` to the incident timeline and queues the matching event."""
    session.add(entry)
    emit(session, event_type, data, at=entry.at, incident_id=entry.incident_id)


Subject = tuple[str, str]  # (table name, row id) whose `event_seq` numbers an event


def _subject(incident_id: str | None, unit_id: str | None) -> Subject | None:
    """An event is numbered in its incident's sequence, else in its unit's, else not at all."""
    if incident_id is not None:
        return incidents.name, incident_id
    if unit_id is not None:
        return units.name, unit_id
    return None


@dataclass
class _Queue:
    """A transaction's events waiting for its commit, and the subjects whose row lock it holds."""

    held: set[Subject] = field(default_factory=set)
    rows: list[tuple[Subject | None, dict[str, Any]]] = field(default_factory=list)
    # At each open savepoint: how many rows were queued and which locks were held when it began.
    marks: dict[SessionTransaction, tuple[int, frozenset[Subject]]] = field(default_factory=dict)


_QUEUE = "ansim.outbox_queue"


@event.listens_for(sa.orm.Mapper, "after_insert")
def _hold_inserted(_mapper: sa.orm.Mapper[Any], _connection: Any, target: Any) -> None:
    """A row this transaction inserted is its own until commit: no lock to take (one statement
    less an SOS, whose incident is new). A savepoint rolling the insert back forgets it (marks)."""
    table = _mapper.local_table
    if table is not incidents and table is not units:
        return
    session = sa.orm.object_session(target)
    if session is not None:
        queue = session.info.get(_QUEUE)
        if queue is None:
            queue = session.info[_QUEUE] = _Queue()
        queue.held.add((table.name, target.id))


@event.listens_for(Session, "after_transaction_create")
def _mark_savepoint(session: Session, transaction: SessionTransaction) -> None:
    queue = session.info.get(_QUEUE)
    if queue is not None and transaction.nested:
        queue.marks[transaction] = (len(queue.rows), frozenset(queue.held))


@event.listens_for(Session, "after_soft_rollback")
def _drop_rolled_back(session: Session, previous: SessionTransaction) -> None:
    """A savepoint rolled back: its events never happened, and the locks it took are gone."""
    queue = session.info.get(_QUEUE)
    if queue is None:
        return
    if not previous.nested:
        session.info.pop(_QUEUE, None)
        return
    # No mark: the queue began inside this savepoint, so all of it goes.
    count, held = queue.marks.pop(previous, (0, frozenset()))
    del queue.rows[count:]
    queue.held = set(held)


@event.listens_for(Session, "after_transaction_end")
def _forget(session: Session, transaction: SessionTransaction) -> None:
    # A savepoint's mark stays until the transaction ends: `after_soft_rollback` comes after this.
    if transaction.parent is None and not transaction.nested:
        session.info.pop(_QUEUE, None)


@event.listens_for(Session, "before_commit")
def _write_at_commit(session: Session) -> None:
    # Fired at a savepoint's release too: its rows wait for the transaction's own commit.
    if session.get_nested_transaction() is None:
        write_queued(session)


def write_queued(session: Session) -> None:
    """Writes the transaction's queued events now, in order (at commit, or for a reader inside it).

    Not inside a savepoint: rows queued before it would go if it rolled back.
    """
    queue = session.info.get(_QUEUE)
    if queue is None or not queue.rows:
        return
    if session.get_nested_transaction() is not None:
        raise RuntimeError("outbox.write_queued inside a savepoint")
    queued, queue.rows = queue.rows, []
    session.flush()  # a new incident's row, for its sequence
    counts: dict[Subject, int] = {}
    for subject, _ in queued:
        if subject is not None:
            counts[subject] = counts.get(subject, 0) + 1
    # Each subject's row is locked by this transaction already (or, SQLite, the database is).
    next_seq: dict[Subject, int | None] = {}
    for (table, key), count in counts.items():
        last = session.execute(_BUMP[table], {"key": key, "n": count}).scalar_one_or_none()
        # No such row (a subject that is gone): the events still leave, without a sequence.
        next_seq[(table, key)] = None if last is None else int(last) - count + 1
    rows = []
    for subject, values in queued:
        seq = None if subject is None else next_seq[subject]
        rows.append({**values, "seq": seq})
        if subject is not None and seq is not None:
            next_seq[subject] = seq + 1
    if _on_postgres(session):
        ids = list(session.execute(_INSERT_MANY, rows).scalars())
        # RETURNING, never a rowcount (-1 for some statements through SQLAlchemy): a lost row must
        # fail the commit, not vanish (test_outbox_emit); ids in emission order keep the order.
        if len(ids) != len(rows) or any(a >= b for a, b in itertools.pairwise(ids)):
            raise RuntimeError(f"outbox: {len(rows)} events queued, ids {ids} written")
        return
    # sqlite3's executemany: one statement run row after row (ids in order), and an exact rowcount
    # (SQLAlchemy would run an INSERT ... RETURNING in parameter order one row at a time).
    written = session.execute(_INSERT_ROW, rows).rowcount  # type: ignore[attr-defined]
    if written != len(rows):
        raise RuntimeError(f"outbox: {len(rows)} events queued, {written} written")


def _bump(table: sa.Table) -> sa.UpdateBase:
    return (
        table.update()
        .where(table.c.id == sa.bindparam("key"))
        .values(event_seq=table.c.event_seq + sa.bindparam("n", type_=sa.Integer))
        .returning(table.c.event_seq)
    )


# Built once: constructing the statements per event cost more CPU than running them on SQLite.
_BUMP = {table.name: _bump(table) for table in (incidents, units)}
_LOCK = {
    table.name: sa.select(table.c.id)
    .where(table.c.id == sa.bindparam("key"))
    .with_for_update(key_share=True)
    for table in (incidents, units)
}
_INSERT_ROW = outbox.insert()
# PostgreSQL: one statement for many rows (insertmanyvalues), ids drawn in the parameters' order.
_INSERT_MANY = (
    outbox.insert().values(xid=_CURRENT_XID).returning(outbox.c.id, sort_by_parameter_order=True)
)


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
