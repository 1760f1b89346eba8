"""On PostgreSQL a commit in one process wakes the outbox readers of the others (NOTIFY after commit)."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy.engine import Engine
from tests.faultkit import run_in_own_loop

from ansim.bus.wakeup import WakeListener, notify_hook
from ansim.store import outbox
from ansim.store.db import make_engine, make_session_factory
from ansim.store.uow import UnitOfWork

AT = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_commit_elsewhere_wakes_the_listener(engine: Engine, database_url: str) -> None:
    woken = threading.Event()
    listener = WakeListener(engine, [woken.set])
    other_process = make_engine(database_url)  # the writer: its own engine, as another process
    writer = UnitOfWork(make_session_factory(other_process))
    writer.add_after_commit(notify_hook(other_process))

    async def scenario() -> bool:
        listening = asyncio.create_task(listener.run())
        await asyncio.sleep(0.5)  # LISTEN is in place
        with writer.begin() as session:
            outbox.emit(
                session,
                "unit.moved",
                {"unit_id": "u-1", "lat": 37.5, "lon": 127.0, "at": AT},
                at=AT,
                unit_id="u-1",
            )
        heard = await asyncio.to_thread(woken.wait, 5.0)
        listener.stop()
        await listening
        return heard

    try:
        assert run_in_own_loop(scenario), "the listener was not woken by the commit"
        assert listener.heard >= 1
    finally:
        other_process.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_the_listener_drops_its_own_processs_notifications(
    engine: Engine, database_url: str
) -> None:
    """Its own commits woke its readers directly; the echo would cost the relay a round for nothing."""
    woken = threading.Event()
    listener = WakeListener(engine, [woken.set])
    other_process = make_engine(database_url)

    async def scenario() -> tuple[bool, bool]:
        listening = asyncio.create_task(listener.run())
        await asyncio.sleep(0.5)  # LISTEN is in place
        notify_hook(engine)()
        echoed = await asyncio.to_thread(woken.wait, 1.0)
        notify_hook(other_process)()
        heard = await asyncio.to_thread(woken.wait, 5.0)
        listener.stop()
        await listening
        return echoed, heard

    try:
        echoed, heard = run_in_own_loop(scenario)
        assert not echoed, "the listener woke for its own engine's notification"
        assert heard, "another engine's notification was not heard"
        assert listener.heard == 1
    finally:
        other_process.dispose()
