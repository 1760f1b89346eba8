"""An event is never dropped on the way into the outbox, whatever state its incident's row is in.

Rows wait in the session and go in at commit (one sequence bump per incident, one multi-row
INSERT): when the incident is still pending in the session, or gone, or a savepoint rolls back,
each event must still get its number, or leave without one, or go with the savepoint.
"""

from __future__ import annotations

import contextlib
import uuid

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
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


def _incident(session: Session) -> str:
    incident_id = str(uuid.uuid4())
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
    return incident_id


def _repeat(session: Session, incident_id: str, count: int) -> None:
    outbox.emit(
        session,
        "incident.sos_repeated",
        {"incident_id": incident_id, "channel": "app", "sos_count": count},
        at=T0,
        incident_id=incident_id,
    )


def test_events_queued_until_commit_keep_their_order_across_incidents(engine: Engine) -> None:
    uow = UnitOfWork(make_session_factory(engine))
    with uow.begin() as session:
        first, second = _incident(session), _incident(session)
        for n, incident_id in enumerate([first, second, first, first, second]):
            _repeat(session, incident_id, n + 2)
        outbox.emit(session, "deadline.failing", FAILING, at=T0)
    with uow.begin() as session:  # a later transaction continues the numbers
        _repeat(session, second, 9)
    assert _events(engine) == [
        ("incident.sos_repeated", first, 1),
        ("incident.sos_repeated", second, 1),
        ("incident.sos_repeated", first, 2),
        ("incident.sos_repeated", first, 3),
        ("incident.sos_repeated", second, 2),
        ("deadline.failing", None, None),
        ("incident.sos_repeated", second, 3),
    ]


def test_a_savepoint_that_rolls_back_takes_only_its_own_queued_events(engine: Engine) -> None:
    uow = UnitOfWork(make_session_factory(engine))
    with uow.begin() as session:
        incident_id = _incident(session)
        _repeat(session, incident_id, 2)
        with contextlib.suppress(RuntimeError), session.begin_nested():
            _repeat(session, incident_id, 3)
            raise RuntimeError("the secondary step failed")
        with session.begin_nested():  # a savepoint that is released keeps its events
            _repeat(session, incident_id, 4)
        _repeat(session, incident_id, 5)
    rows = _events(engine)
    assert [seq for _, _, seq in rows] == [1, 2, 3]
    with engine.connect() as connection:
        counts = connection.execute(
            sa.select(outbox_table.c.data["sos_count"].as_integer()).order_by(outbox_table.c.id)
        ).scalars()
        assert list(counts) == [2, 4, 5]


def test_a_transaction_that_rolls_back_leaves_nothing_queued(engine: Engine) -> None:
    uow = UnitOfWork(make_session_factory(engine))
    with contextlib.suppress(RuntimeError), uow.begin() as session:
        _repeat(session, _incident(session), 2)
        raise RuntimeError("refused")
    with uow.begin() as session:
        incident_id = _incident(session)
    with uow.begin() as session:
        _repeat(session, incident_id, 2)
    assert _events(engine) == [("incident.sos_repeated", incident_id, 1)]
