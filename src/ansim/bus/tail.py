"""A worker without a broker follows the outbox table itself, so its boards see other workers' events."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from anyio import to_thread

from ansim.bus.memory import InProcessBus
from ansim.domain.events import EventEnvelope
from ansim.store import outbox
from ansim.store.uow import UnitOfWork

log = logging.getLogger(__name__)


class OutboxTail:
    """Polls committed events past the last one fed (writers commit in id order, so none is skipped)."""

    def __init__(self, uow: UnitOfWork, bus: InProcessBus, *, poll_s: float = 0.5) -> None:
        self._uow = uow
        self._bus = bus
        self._poll_s = poll_s
        self._stopping = asyncio.Event()
        self.last_id: int | None = None
        self.fed = 0

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.follow()
            except (
                Exception
            ) as error:  # the database may be away for a while; boards catch up later
                log.warning("outbox tail failed (%s); retrying", type(error).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=self._poll_s)

    async def follow(self) -> int:
        """Feeds the events committed since the last call; the first call only finds the starting point."""
        if self.last_id is None:
            self.last_id = await to_thread.run_sync(self._newest)
            return 0
        batch = await to_thread.run_sync(self._since, self.last_id)
        for envelope in batch:
            self._bus.publish(envelope)
        if batch:
            self.last_id = batch[-1].id
            self.fed += len(batch)
        return len(batch)

    def stop(self) -> None:
        self._stopping.set()

    def _newest(self) -> int:
        with self._uow.read() as session:
            return outbox.newest_id(session)

    def _since(self, after_id: int) -> list[EventEnvelope]:
        with self._uow.read() as session:
            return outbox.since(session, after_id=after_id)
