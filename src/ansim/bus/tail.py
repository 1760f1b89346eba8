"""A worker without a broker follows the outbox table itself, so its boards see other workers' events."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from anyio import to_thread

from ansim.bus.memory import InProcessBus
from ansim.store import outbox
from ansim.store.uow import UnitOfWork

log = logging.getLogger(__name__)

_MIN_GAP_S = 0.01


class OutboxTail:
    """Polls the outbox from the last horizon reached, feeding each event once, in id order.

    Each poll reads every visible event at or above the horizon of the previous poll: the rows below
    it were complete then, and the ones above it that committed since are read again and dropped by
    id. So an event that commits after a higher id is fed late, never skipped.
    """

    def __init__(self, uow: UnitOfWork, bus: InProcessBus, *, poll_s: float = 0.5) -> None:
        self._uow = uow
        self._bus = bus
        self._poll_s = poll_s
        self._stopping = False
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.horizon: int | None = None
        # Ids fed whose position is at or above the horizon (they will be read again).
        self._fed_above: set[int] = set()
        self.fed = 0

    def wake_threadsafe(self) -> Callable[[], None]:
        """A hook for the wake-up listener (ansim.bus.wakeup) that may run in any thread."""

        def wake() -> None:
            if self._loop is not None and not self._loop.is_closed():
                self._loop.call_soon_threadsafe(self._wake.set)

        return wake

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        while not self._stopping:
            try:
                await self.follow()
            except (
                Exception
            ) as error:  # the database may be away for a while; boards catch up later
                log.warning("outbox tail failed (%s); retrying", type(error).__name__)
            # Wake-ups come with every commit elsewhere; one poll serves those of a few ms.
            await asyncio.sleep(_MIN_GAP_S)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._poll_s)
            self._wake.clear()

    async def follow(self) -> int:
        """Feeds the events committed since the last call; the first call only finds the starting point."""
        if self.horizon is None:
            # From now on: what is visible already (above the horizon too) counts as fed.
            start = await to_thread.run_sync(self._now)
            caught = await to_thread.run_sync(self._catch_up, start, set())
            self._fed_above = set(caught.above)
            self.horizon = caught.horizon
            return 0
        caught = await to_thread.run_sync(self._catch_up, self.horizon, self._fed_above)
        fresh = caught.events
        if fresh:
            fresh[-1] = fresh[-1].model_copy(update={"horizon": caught.horizon})
        for envelope in fresh:
            self._bus.publish(envelope)
        self.fed += len(fresh)
        self._fed_above = set(caught.above)
        self.horizon = caught.horizon
        return len(fresh)

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    def _now(self) -> int:
        with self._uow.read() as session:
            return outbox.horizon(session)

    def _catch_up(self, start: int, known: set[int]) -> outbox.Catchup:
        with self._uow.read() as session:
            return outbox.catch_up(session, start=start, known=known)
