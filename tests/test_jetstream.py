"""The relay publishes committed events to JetStream; every worker's feed hands them to its boards once."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from tests.faultkit import NatsServer, need_nats_server, run_in_own_loop

from ansim.bus.jetstream import JetStreamFeed, JetStreamLink, subject_for
from ansim.bus.memory import InProcessBus
from ansim.bus.relay import OutboxRelay
from ansim.domain.events import EventEnvelope
from ansim.store import outbox
from ansim.store.db import make_session_factory
from ansim.store.uow import UnitOfWork

pytestmark = pytest.mark.nats
AT = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


@pytest.fixture
def nats_url(tmp_path: Path) -> Iterator[str]:
    need_nats_server()
    server = NatsServer(tmp_path / "js")
    server.start()
    yield server.url
    server.stop()


def _emit(uow: UnitOfWork, count: int) -> None:
    with uow.begin() as session:
        for index in range(count):
            outbox.emit(
                session,
                "unit.moved",
                {"unit_id": f"u{index % 2}", "lat": 37.5, "lon": 127.0, "at": AT},
                at=AT,
                unit_id=f"u{index % 2}",
            )


async def _until(condition: object, timeout_s: float = 10.0) -> None:
    assert callable(condition)
    for _ in range(int(timeout_s / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("timed out")


def test_events_cross_processes_in_order_and_only_once(engine: Engine, nats_url: str) -> None:
    uow = UnitOfWork(make_session_factory(engine))

    async def scenario() -> list[EventEnvelope]:
        relay_link, worker_link = JetStreamLink(nats_url), JetStreamLink(nats_url)
        bus = InProcessBus()
        feed = JetStreamFeed(worker_link, bus)
        relay = OutboxRelay(uow, relay_link, poll_s=0.05)
        received: list[EventEnvelope] = []
        async with bus.subscribe() as subscription:
            tasks = [asyncio.create_task(feed.run())]
            await asyncio.wait_for(feed.subscribed.wait(), 10)
            tasks.append(asyncio.create_task(relay.run()))
            _emit(uow, 5)
            await _until(lambda: feed.fed == 5)
            # A relay that died between publishing and marking publishes the same rows again.
            with uow.read() as session:
                again = outbox.since(session, after_id=0)
            await relay_link.publish(again)
            _emit(uow, 2)
            await _until(lambda: feed.fed == 7)
            while not subscription.queue.empty():
                envelope = await subscription.next()
                assert envelope is not None
                received.append(envelope)
            relay.stop()
            feed.stop()
            await asyncio.gather(*tasks)
            await relay_link.close()
            await worker_link.close()
        return received

    received = run_in_own_loop(scenario)
    assert [e.id for e in received] == sorted(e.id for e in received)
    assert len({e.id for e in received}) == 7
    with uow.read() as session:
        assert outbox.backlog(session) == 0


def test_subjects_name_the_incident_or_unit() -> None:
    base = {"id": 1, "type": "x", "version": 1, "at": AT, "data": {}}
    assert subject_for(EventEnvelope(**base, incident_id="i-1", unit_id="u")).endswith(
        "incident.i-1"
    )
    assert subject_for(EventEnvelope(**base, incident_id=None, unit_id="u-2")).endswith("unit.u-2")
    assert subject_for(EventEnvelope(**base, incident_id=None, unit_id=None)).endswith("system")
