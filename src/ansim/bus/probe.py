"""Scheduler probes: deadlines that only record when they fired, to watch the scheduler end to end."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from ansim.store import deadlines, outbox
from ansim.store.deadlines import Deadline

PROBE = "ops.probe"


def schedule_probe(session: Session, *, label: str, due_at: datetime, at: datetime) -> str:
    """Adds a probe deadline in the caller's transaction; returns its id."""
    return deadlines.schedule(session, kind=PROBE, subject_id=label, due_at=due_at, at=at)


def fire_probe(session: Session, deadline: Deadline, now: datetime) -> None:
    """Emits `ops.probe_fired` in the firing transaction (so it exists exactly once per firing)."""
    outbox.emit(
        session,
        "ops.probe_fired",
        {
            "deadline_id": deadline.id,
            "label": deadline.subject_id,
            "due_at": deadline.due_at,
            "fired_at": now,
            "late_s": max(0.0, (now - deadline.due_at).total_seconds()),
        },
        at=now,
    )
