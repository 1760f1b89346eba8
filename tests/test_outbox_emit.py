"""An event is never dropped on the way into the outbox, whatever state its incident's row is in.

PostgreSQL writes the sequence bump and the row in one statement; when the incident is still
pending in the session, or gone, that statement inserts nothing, and the emit must notice it.
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from tests.factories import T0

from ansim.domain.incidents import Channel, Incident, IncidentStatus, PriorityCode
from ansim.store import outbox
from ansim.store.db import make_session_factory
from ansim.store.tables import outbox as outbox_table
from ansim.store.uow import UnitOfWork

FAILING = {
    "kind": "verification.answer",
    "subject_id": "gone",
    "attempts": 3,
    "error": "RuntimeError: x",
    "next_try_at": T0,
}


def _events(engine: Engine) -> list[tuple[str, str | None, int | None]]:
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(outbox_table.c.type, outbox_table.c.incident_id, outbox_table.c.seq).order_by(
                outbox_table.c.id
            )
        ).all()
    return [tuple(row) for row in rows]  # type: ignore[misc]


def test_an_event_of_an_incident_not_yet_flushed_gets_its_first_number(engine: Engine) -> None:
    incident_id = str(uuid.uuid4())
    with UnitOfWork(make_session_factory(engine)).begin() as session:
        session.add(
            Incident(
                id=incident_id,
                channel=Channel.APP,
                status=IncidentStatus.RECEIVED,
                priority=PriorityCode.CODE_1,
                received_at=T0,
                updated_at=T0,
            )
        )
        outbox.emit(
            session,
            "incident.waiting_changed",
            {
                "incident_id": incident_id,
                "waiting_for_units": 1,
                "waiting_since": T0,
                "no_location": True,
            },
            at=T0,
            incident_id=incident_id,
        )
    assert _events(engine) == [("incident.waiting_changed", incident_id, 1)]


def test_an_event_about_a_subject_without_a_row_still_leaves(engine: Engine) -> None:
    with UnitOfWork(make_session_factory(engine)).begin() as session:
        outbox.emit(session, "deadline.failing", FAILING, at=T0, incident_id="gone")
    assert _events(engine) == [("deadline.failing", "gone", None)]
