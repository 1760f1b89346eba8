"""One relay at a time on PostgreSQL; a worker without a broker follows the outbox itself."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.engine import Engine
from tests.faultkit import run_in_own_loop

from ansim.bus.lease import RELAY_LOCK, AdvisoryLease
from ansim.bus.memory import InProcessBus
from ansim.bus.tail import OutboxTail
from ansim.domain.events import EventEnvelope
from ansim.store import outbox
from ansim.store.db import make_session_factory
from ansim.store.uow import UnitOfWork

AT = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_only_one_holder_of_a_lease_until_it_lets_go(engine: Engine) -> None:
    first, second = AdvisoryLease(engine, RELAY_LOCK), AdvisoryLease(engine, RELAY_LOCK)
    assert first.hold()
    assert first.hold(), "holding is idempotent"
    assert not second.hold()
    first.release()
    assert second.hold()
    assert not first.hold()
    second.release()


def test_the_tail_feeds_events_committed_after_it_started(engine: Engine) -> None:
    uow = UnitOfWork(make_session_factory(engine))

    def emit(unit_id: str) -> None:
        with uow.begin() as session:
            outbox.emit(
                session,
                "unit.moved",
                {"unit_id": unit_id, "lat": 37.5, "lon": 127.0, "at": AT},
                at=AT,
                unit_id=unit_id,
            )

    async def scenario() -> list[EventEnvelope | None]:
        bus = InProcessBus()
        tail = OutboxTail(uow, bus)
        emit("before")
        async with bus.subscribe() as subscription:
            assert (
                await tail.follow() == 0
            )  # finds its starting point; the board reads the past itself
            emit("after-1")
            emit("after-2")
            assert await tail.follow() == 2
            assert await tail.follow() == 0
            return [subscription.queue.get_nowait() for _ in range(2)]

    received = run_in_own_loop(scenario)
    assert [e.unit_id if e else None for e in received] == ["after-1", "after-2"]
