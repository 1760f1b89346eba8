"""Durable deadlines: rows, not sleeping tasks, so a restart (or another scheduler) resumes them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ansim.store.tables import deadlines


@dataclass(frozen=True)
class Deadline:
    id: str
    kind: str
    subject_id: str
    due_at: datetime
    data: dict[str, Any]
    attempts: int


def schedule(
    session: Session,
    *,
    kind: str,
    subject_id: str,
    due_at: datetime,
    at: datetime,
    data: dict[str, Any] | None = None,
) -> str:
    """Adds a deadline in the caller's transaction; it exists only if the change that needs it commits."""
    deadline_id = str(uuid.uuid4())
    session.execute(
        deadlines.insert().values(
            id=deadline_id,
            kind=kind,
            subject_id=subject_id,
            due_at=due_at,
            created_at=at,
            data=data or {},
            attempts=0,
        )
    )
    return deadline_id


def cancel(session: Session, *, kind: str, subject_id: str, at: datetime) -> int:
    """Cancels the pending deadlines of `kind` for `subject_id`; returns how many."""
    result = session.execute(_pending(kind, subject_id).values(cancelled_at=at))
    return int(result.rowcount)  # type: ignore[attr-defined]


def move(session: Session, *, kind: str, subject_id: str, due_at: datetime, at: datetime) -> None:
    """Moves the pending deadline of `kind` for `subject_id` to `due_at`, or schedules it.

    One row per subject however often it moves: a terminal heartbeating every minute updates its
    deadline in place instead of leaving a cancelled row behind each time.
    """
    moved = session.execute(_pending(kind, subject_id).values(due_at=due_at))
    if not moved.rowcount:  # type: ignore[attr-defined]
        schedule(session, kind=kind, subject_id=subject_id, due_at=due_at, at=at)


def _pending(kind: str, subject_id: str) -> sa.Update:
    """An update of the deadline of `kind` for `subject_id` that has neither fired nor been cancelled."""
    return deadlines.update().where(
        deadlines.c.kind == kind,
        deadlines.c.subject_id == subject_id,
        deadlines.c.fired_at.is_(None),
        deadlines.c.cancelled_at.is_(None),
    )


def claim_due(session: Session, *, now: datetime, limit: int = 50) -> list[Deadline]:
    """Locks due deadlines for this transaction; another scheduler skips them (SKIP LOCKED)."""
    query = (
        sa.select(deadlines)
        .where(
            deadlines.c.due_at <= now,
            deadlines.c.fired_at.is_(None),
            deadlines.c.cancelled_at.is_(None),
        )
        .order_by(deadlines.c.due_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return [_deadline(row) for row in session.execute(query).mappings()]


def mark_fired(session: Session, *, deadline_id: str, at: datetime) -> None:
    session.execute(deadlines.update().where(deadlines.c.id == deadline_id).values(fired_at=at))


def postpone_after_failure(session: Session, *, deadline_id: str, until: datetime) -> None:
    session.execute(
        deadlines.update()
        .where(deadlines.c.id == deadline_id)
        .values(due_at=until, attempts=deadlines.c.attempts + 1)
    )


def pending(
    session: Session, *, kind: str | None = None, subject_id: str | None = None
) -> list[Deadline]:
    query = sa.select(deadlines).where(
        deadlines.c.fired_at.is_(None), deadlines.c.cancelled_at.is_(None)
    )
    if kind is not None:
        query = query.where(deadlines.c.kind == kind)
    if subject_id is not None:
        query = query.where(deadlines.c.subject_id == subject_id)
    return [
        _deadline(row) for row in session.execute(query.order_by(deadlines.c.due_at)).mappings()
    ]


def _deadline(row: sa.RowMapping) -> Deadline:
    return Deadline(
        id=row["id"],
        kind=row["kind"],
        subject_id=row["subject_id"],
        due_at=row["due_at"],
        data=row["data"],
        attempts=row["attempts"],
    )
