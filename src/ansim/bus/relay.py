"""The outbox relay: moves committed events from the outbox table onto the bus."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from anyio import to_thread

from ansim.bus.memory import InProcessBus
from ansim.domain.events import EventEnvelope
from ansim.store import outbox
from ansim.store.uow import UnitOfWork

log = logging.getLogger(__name__)


class OutboxRelay:
    """Publishes in outbox order; woken after each commit, and polls in case a wake-up was missed."""

    def __init__(self, uow: UnitOfWork, bus: InProcessBus, *, poll_s: float = 0.5) -> None:
        self._uow = uow
        self._bus = bus
        self._poll_s = poll_s
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = False

    def wake_threadsafe(self) -> Callable[[], None]:
        """A hook for UnitOfWork.add_after_commit that may run in any thread."""

        def wake() -> None:
            if self._loop is not None and not self._loop.is_closed():
                self._loop.call_soon_threadsafe(self._wake.set)

        return wake

    def stop(self) -> None:
        """Asks the loop to finish its current batch and return (no thread is left holding a connection)."""
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        while not self._stopping:
            try:
                await self.publish_pending()
            except Exception:  # a broken database must not kill the relay; it retries
                log.exception("outbox relay failed; retrying")
            if self._stopping:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._poll_s)
            self._wake.clear()

    async def publish_pending(self) -> int:
        published = 0
        while True:
            batch = await to_thread.run_sync(self._take_batch)
            if not batch:
                return published
            for envelope in batch:
                self._bus.publish(envelope)
            await to_thread.run_sync(self._mark, [e.id for e in batch])
            published += len(batch)

    def _take_batch(self) -> list[EventEnvelope]:
        with self._uow.read() as session:
            return outbox.unpublished(session)

    def _mark(self, ids: list[int]) -> None:
        with self._uow.begin() as session:
            outbox.mark_published(session, ids, at=datetime.now(UTC))
