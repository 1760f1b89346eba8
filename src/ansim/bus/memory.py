"""The in-process event bus: fan-out of committed events to async subscribers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from ansim.domain.events import EventEnvelope

# A board that falls this far behind is cut off; it reconnects and catches up from the store.
SUBSCRIBER_BACKLOG = 10_000


class Subscription:
    def __init__(self) -> None:
        self.queue: asyncio.Queue[EventEnvelope | None] = asyncio.Queue(SUBSCRIBER_BACKLOG)
        self.overflowed = False

    async def next(self) -> EventEnvelope | None:
        """The next event, or None once the subscription was cut off."""
        return await self.queue.get()


class InProcessBus:
    """Delivers each published envelope to every current subscriber, in publish order."""

    def __init__(self) -> None:
        self._subscriptions: set[Subscription] = set()

    def publish(self, envelope: EventEnvelope) -> None:
        for subscription in list(self._subscriptions):
            try:
                subscription.queue.put_nowait(envelope)
            except asyncio.QueueFull:
                subscription.overflowed = True
                self._subscriptions.discard(subscription)

    @asynccontextmanager
    async def subscribe(self) -> AsyncIterator[Subscription]:
        subscription = Subscription()
        self._subscriptions.add(subscription)
        try:
            yield subscription
        finally:
            self._subscriptions.discard(subscription)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscriptions)
