"""Durable deadlines fire exactly once, after a restart too, and never twice with two schedulers."""

from __future__ import annotations

import threading
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from tests.factories import T0

from ansim.bus.scheduler import DeadlineScheduler
from ansim.store import deadlines
from ansim.store.db import make_session_factory
from ansim.store.deadlines import Deadline
from ansim.store.tables import deadlines as deadline_rows
from ansim.store.uow import UnitOfWork


def test_a_deadline_fires_once_when_due_and_a_new_scheduler_resumes_it(engine: Engine) -> None:
    uow = UnitOfWork(make_session_factory(engine))
    fired: list[tuple[str, str]] = []

    def handler(session: Session, deadline: Deadline, now: object) -> None:
        fired.append((deadline.subject_id, deadline.data["why"]))

    with uow.begin() as session:
        deadlines.schedule(
            session,
            kind="test.ack",
            subject_id="a1",
            due_at=T0 + timedelta(seconds=30),
            at=T0,
            data={"why": "ack"},
        )
        deadlines.schedule(
            session,
            kind="test.ack",
            subject_id="a2",
            due_at=T0 + timedelta(seconds=60),
            at=T0,
            data={"why": "x"},
        )
        deadlines.schedule(
            session,
            kind="test.ack",
            subject_id="a3",
            due_at=T0 + timedelta(seconds=10),
            at=T0,
            data={"why": "y"},
        )
    with uow.begin() as session:
        assert deadlines.cancel(session, kind="test.ack", subject_id="a3", at=T0) == 1
    first = DeadlineScheduler(uow, {"test.ack": handler}, clock=lambda: T0)
    assert first.fire_due(T0 + timedelta(seconds=29)) == 0
    assert first.fire_due(T0 + timedelta(seconds=31)) == 1
    # "Restart": a new scheduler over the same database sees only what is still pending.
    second = DeadlineScheduler(uow, {"test.ack": handler}, clock=lambda: T0)
    assert second.fire_due(T0 + timedelta(seconds=31)) == 0
    assert second.fire_due(T0 + timedelta(minutes=5)) == 1
    assert fired == [("a1", "ack"), ("a2", "x")]


def test_a_failing_handler_is_retried_and_its_effects_rolled_back(engine: Engine) -> None:
    uow = UnitOfWork(make_session_factory(engine))
    calls: list[int] = []

    def flaky(session: Session, deadline: Deadline, now: object) -> None:
        calls.append(deadline.attempts)
        deadlines.schedule(session, kind="test.side", subject_id="s", due_at=T0, at=T0)
        if len(calls) == 1:
            raise RuntimeError("gateway down")

    with uow.begin() as session:
        deadlines.schedule(session, kind="test.flaky", subject_id="f", due_at=T0, at=T0)
    scheduler = DeadlineScheduler(
        uow, {"test.flaky": flaky, "test.side": lambda *_: None}, clock=lambda: T0
    )
    assert scheduler.fire_due(T0) == 0
    with uow.read() as session:
        assert [d.kind for d in deadlines.pending(session)] == [
            "test.flaky"
        ]  # the side effect was rolled back
    assert scheduler.fire_due(T0 + timedelta(seconds=10)) == 2  # the retry and its side deadline
    assert calls == [0, 1]


def test_two_schedulers_racing_fire_each_deadline_once(engine: Engine) -> None:
    uow = UnitOfWork(make_session_factory(engine))
    fired: list[str] = []
    lock = threading.Lock()

    def handler(session: Session, deadline: Deadline, now: object) -> None:
        with lock:
            fired.append(deadline.subject_id)

    with uow.begin() as session:
        for n in range(40):
            deadlines.schedule(session, kind="test.race", subject_id=f"d{n}", due_at=T0, at=T0)
    schedulers = [
        DeadlineScheduler(uow, {"test.race": handler}, clock=lambda: T0) for _ in range(2)
    ]
    threads = [threading.Thread(target=s.fire_due, args=(T0,)) for s in schedulers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(fired) == sorted(f"d{n}" for n in range(40))


def test_moving_a_deadline_keeps_one_row_and_fires_only_at_the_last_time(engine: Engine) -> None:
    uow = UnitOfWork(make_session_factory(engine))
    fired: list[str] = []
    with uow.begin() as session:  # nothing pending yet: moving schedules it
        deadlines.move(session, kind="test.beat", subject_id="t1", due_at=T0, at=T0)
    for minute in range(1, 4):  # a terminal heard three more times
        with uow.begin() as session:
            deadlines.move(
                session,
                kind="test.beat",
                subject_id="t1",
                due_at=T0 + timedelta(minutes=minute),
                at=T0,
            )
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(deadline_rows)).scalar_one() == 1
    scheduler = DeadlineScheduler(
        uow, {"test.beat": lambda s, d, now: fired.append(d.subject_id)}, clock=lambda: T0
    )
    assert scheduler.fire_due(T0 + timedelta(minutes=2)) == 0
    assert scheduler.fire_due(T0 + timedelta(minutes=3)) == 1
    assert fired == ["t1"]
    with uow.begin() as session:  # fired: the next move schedules a new one
        deadlines.move(session, kind="test.beat", subject_id="t1", due_at=T0, at=T0)
        assert [d.subject_id for d in deadlines.pending(session, kind="test.beat")] == ["t1"]


def test_finding_failing_deadlines_back_off_are_never_dropped_and_reach_the_board(
    engine: Engine,
) -> None:
    """A handler that keeps failing is retried with doubling waits (capped), announced once, kept."""
    uow = UnitOfWork(make_session_factory(engine))
    tries: list[object] = []

    def broken(session: Session, deadline: Deadline, now: object) -> None:
        tries.append(now)
        if len(tries) < 9:
            raise RuntimeError("database constraint surprise")

    with uow.begin() as session:
        deadlines.schedule(
            session, kind="verification.answer", subject_id="incident-1", due_at=T0, at=T0
        )
    scheduler = DeadlineScheduler(uow, {"verification.answer": broken}, clock=lambda: T0)
    waits = []
    now = T0
    while len(tries) < 9:
        assert scheduler.fire_due(now) in {0, 1}
        with uow.read() as session:
            pending = deadlines.pending(session)
        if pending:
            waits.append((pending[0].due_at - now).total_seconds())
            now = pending[0].due_at
    assert waits == [5, 10, 20, 40, 80, 160, 300, 300]  # capped at five minutes, never given up
    with uow.read() as session:
        announced = session.execute(
            sa.select(sa.text("type"), sa.text("incident_id"))
            .select_from(sa.table("outbox"))
            .where(sa.text("type = 'deadline.failing'"))
        ).all()
        assert deadlines.pending(session) == []  # the ninth try succeeded and fired it
    assert [tuple(row) for row in announced] == [("deadline.failing", "incident-1")]
