"""Concurrent writers without a global lock: every reader sees every event once, in order per incident.

Writers in separate processes commit in parallel on PostgreSQL. Each transaction takes its xid
early (an event without an incident, written at once rather than at commit), waits a random while,
emits an event of a random incident (whose row lock it then holds) and writes it, waits again and
commits, or rolls back. So xid order, id order and
commit order differ, which is what made "the last id I saw" skip events. Three readers run during the
writes: the tail (horizon polls), the relay (unpublished rows) and a board that reconnects from its
horizon cursor on every poll (the stream's catch-up). Each must end with every committed event
exactly once and each incident's events in sequence order 1, 2, 3, ...

ANSIM_OUTBOX_STRESS=N multiplies the transactions per writer (the default run takes seconds).
"""

from __future__ import annotations

import asyncio
import itertools
import multiprocessing
import os
import random
import threading
import time
import uuid
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ansim.bus.memory import InProcessBus
from ansim.bus.relay import OutboxRelay
from ansim.bus.tail import OutboxTail
from ansim.domain.events import EventEnvelope
from ansim.domain.incidents import Channel, IncidentStatus, PriorityCode
from ansim.security import audit
from ansim.store import outbox
from ansim.store.db import make_engine, make_session_factory
from ansim.store.tables import incidents
from ansim.store.tables import outbox as outbox_table
from ansim.store.uow import UnitOfWork

AT = datetime(2026, 12, 5, 1, 0, tzinfo=UTC)
WRITERS = 6
INCIDENTS = 4
PER_WRITER = 30 * int(os.environ.get("ANSIM_OUTBOX_STRESS", "1"))


class _Rollback(Exception):
    pass


def _write(url: str, writer: int, incident_ids: list[str], count: int, start_at: float) -> int:
    """One writer process: `count` transactions with random delays; returns how many committed."""
    engine = make_engine(url, pool_size=1)
    uow = UnitOfWork(make_session_factory(engine))
    rng = random.Random(writer)
    committed = 0
    with engine.connect():
        pass  # connected before the start, so the writers really overlap
    time.sleep(max(0.0, start_at - time.time()))
    try:
        for n in range(count):
            try:
                with uow.begin() as session:
                    label = f"w{writer}-{n}"
                    outbox.emit(
                        session,
                        "ops.probe_fired",
                        {
                            "deadline_id": label,
                            "label": label,
                            "due_at": AT,
                            "fired_at": AT,
                            "late_s": 0.0,
                        },
                        at=AT,
                    )
                    # Written now, not at commit: the xid and the id are taken early.
                    outbox.write_queued(session)
                    time.sleep(rng.uniform(0, 0.015))
                    incident_id = rng.choice(incident_ids)
                    outbox.emit(
                        session,
                        "incident.sos_repeated",
                        {"incident_id": incident_id, "channel": "app", "sos_count": 2 + n},
                        at=AT,
                        incident_id=incident_id,
                    )
                    outbox.write_queued(session)
                    time.sleep(rng.uniform(0, 0.015))
                    if rng.random() < 0.1:
                        raise _Rollback
                committed += 1
            except _Rollback:
                pass
    finally:
        engine.dispose()
    return committed


@dataclass
class _Board:
    """A board client: drops repeats by id, applies each incident's events in `seq` order."""

    applied: list[EventEnvelope] = field(default_factory=list)
    seen: set[int] = field(default_factory=set)
    last_seq: dict[str, int] = field(default_factory=dict)
    held: dict[str, dict[int, EventEnvelope]] = field(default_factory=lambda: defaultdict(dict))
    repeats: int = 0

    def receive(self, envelope: EventEnvelope) -> None:
        if envelope.id in self.seen:
            self.repeats += 1
            return
        self.seen.add(envelope.id)
        if envelope.incident_id is None or envelope.seq is None:
            self.applied.append(envelope)
            return
        self.held[envelope.incident_id][envelope.seq] = envelope
        waiting = self.held[envelope.incident_id]
        while (nxt := self.last_seq.get(envelope.incident_id, 0) + 1) in waiting:
            self.applied.append(waiting.pop(nxt))
            self.last_seq[envelope.incident_id] = nxt


def _check(
    name: str, received: list[EventEnvelope], expected_ids: set[int], per_incident: dict[str, int]
) -> None:
    ids = [e.id for e in received]
    assert len(ids) == len(set(ids)), f"{name} delivered an event twice"
    assert set(ids) == expected_ids, f"{name} missed {sorted(expected_ids - set(ids))[:10]}"
    seqs: dict[str, list[int]] = defaultdict(list)
    for envelope in received:
        if envelope.incident_id is not None:
            seqs[envelope.incident_id].append(envelope.seq or 0)
    for incident_id, count in per_incident.items():
        assert seqs[incident_id] == list(range(1, count + 1)), f"{name} broke {incident_id}'s order"


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_parallel_writers_readers_see_every_event_once_in_incident_order(
    engine: Engine, database_url: str
) -> None:
    incident_ids = [str(uuid.uuid4()) for _ in range(INCIDENTS)]
    with engine.begin() as connection:
        connection.execute(
            incidents.insert(),
            [
                {
                    "id": incident_id,
                    "channel": Channel.APP,
                    "status": IncidentStatus.RECEIVED,
                    "priority": PriorityCode.CODE_1,
                    "received_at": AT,
                    "updated_at": AT,
                    "duress": False,
                    "drill": False,
                    "sos_count": 1,
                }
                for incident_id in incident_ids
            ],
        )
    uow = UnitOfWork(make_session_factory(engine))
    tail_bus, relay_bus = InProcessBus(), InProcessBus()
    tail_seen: list[EventEnvelope] = []
    relay_seen: list[EventEnvelope] = []
    board = _Board()
    writing = threading.Event()
    writing.set()

    async def read() -> None:
        tail = OutboxTail(uow, tail_bus)
        relay = OutboxRelay(uow, relay_bus)
        relay.batch_size = 7  # small batches: horizons are promised only on complete ones
        cursor = 0
        async with tail_bus.subscribe() as from_tail, relay_bus.subscribe() as from_relay:
            await tail.follow()  # starting point: the horizon before any writer began
            rounds_after = 0
            while rounds_after < 3:
                if not writing.is_set():
                    rounds_after += 1
                await tail.follow()
                await relay.publish_pending()
                while not from_tail.queue.empty():
                    tail_seen.append(_present(from_tail.queue.get_nowait()))
                while not from_relay.queue.empty():
                    relay_seen.append(_present(from_relay.queue.get_nowait()))
                # The board reconnects on every poll, resuming from the horizon it reached.
                with uow.read() as session:
                    caught = outbox.catch_up(session, start=cursor)
                for envelope in caught.events:
                    board.receive(envelope)
                cursor = caught.horizon
                await asyncio.sleep(random.uniform(0.005, 0.03))

    reader = threading.Thread(target=asyncio.run, args=(read(),))
    reader.start()
    started = time.monotonic()
    start_at = time.time() + 4  # spawned interpreters take a while to import
    try:
        with ProcessPoolExecutor(WRITERS, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = [
                pool.submit(_write, database_url, writer, incident_ids, PER_WRITER, start_at)
                for writer in range(WRITERS)
            ]
            committed = sum(f.result(timeout=120) for f in futures)
    finally:
        writing.clear()
        reader.join(timeout=60)
    assert not reader.is_alive()
    assert time.monotonic() - started < 60

    with engine.connect() as connection:
        rows = connection.execute(sa.select(outbox_table.c.id, outbox_table.c.incident_id)).all()
    expected_ids = {row.id for row in rows}
    per_incident: dict[str, int] = defaultdict(int)
    for row in rows:
        if row.incident_id is not None:
            per_incident[row.incident_id] += 1
    assert len(expected_ids) == 2 * committed
    assert committed < WRITERS * PER_WRITER, "some transactions roll back"

    _check("tail", tail_seen, expected_ids, per_incident)
    _check("relay", relay_seen, expected_ids, per_incident)
    _check("board", board.applied, expected_ids, per_incident)
    assert not any(board.held.values()), "the board holds nothing at the end"
    # The race the old id cursor lost: some event committed after an event with a higher id.
    late = sum(b.id < a.id for seen in (tail_seen, relay_seen) for a, b in itertools.pairwise(seen))
    assert late > 0, "no late commit happened; the test did not exercise the race"


def _present(envelope: EventEnvelope | None) -> EventEnvelope:
    assert envelope is not None
    return envelope


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_audited_writers_do_not_wait_for_each_other_and_the_chain_holds(engine: Engine) -> None:
    """Audited transactions overlap (no chain lock in the writer); every entry is chained once."""
    uow = UnitOfWork(make_session_factory(engine))
    writers, hold_s = 8, 0.3
    barrier = threading.Barrier(writers)

    def audited(n: int) -> None:
        with uow.begin() as session:
            audit.record(session, actor=audit.SYSTEM, action="test.overlap", at=AT, subject=str(n))
            barrier.wait(timeout=10)  # all eight hold their entry at once: none waits for a lock
            time.sleep(hold_s)

    started = time.monotonic()
    threads = [threading.Thread(target=audited, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert time.monotonic() - started < writers * hold_s / 2, "audited writers ran one at a time"
    with uow.read() as session:
        subjects = sorted(e.subject for e in audit.search(session, action="test.overlap"))
    # Chained once every transaction below them has ended (anywhere in the cluster: other tests'
    # CREATE DATABASE hold the horizon back for a moment); the relay loop runs this backstop.
    deadline = time.monotonic() + 20
    count, breaks = 0, []
    while count < writers and time.monotonic() < deadline:
        audit.seal_all(uow)
        with uow.read() as session:
            count, breaks = audit.verify(session)
        time.sleep(0.05)
    assert breaks == []
    assert count == writers
    assert subjects == sorted(str(n) for n in range(writers))
