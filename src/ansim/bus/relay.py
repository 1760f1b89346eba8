"""The outbox relay: moves committed events from the outbox table onto the bus (or NATS JetStream)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from anyio import to_thread

from ansim.bus.jetstream import JetStreamLink
from ansim.bus.lease import AdvisoryLease
from ansim.bus.memory import InProcessBus
from ansim.domain.events import EventEnvelope
from ansim.store import outbox
from ansim.store.uow import UnitOfWork

log = logging.getLogger(__name__)


class OutboxRelay:
    """Publishes in outbox order; woken after each commit, and polls in case a wake-up was missed.

    It reads every committed, unpublished row (never a cursor), so a row that commits late is
    published late, never skipped; id order keeps each incident's events in their sequence. When a
    batch holds every unpublished row, its last event carries the horizon read before it: every
    event below that horizon has now been published (a subscriber's resume cursor).

    With a `lease` (PostgreSQL, several relays) only the holder publishes, so two relays never
    interleave batches; a crash between publish and mark re-publishes, which subscribers drop by id.
    """

    def __init__(
        self,
        uow: UnitOfWork,
        sink: InProcessBus | JetStreamLink,
        *,
        poll_s: float = 0.5,
        lease: AdvisoryLease | None = None,
        housekeeping: Callable[[], object] | None = None,
    ) -> None:
        self._uow = uow
        # Run by the lease holder on every round (the audit chain's backstop sealing).
        self._housekeeping = housekeeping
        self._housekeeping_due = 0.0
        self._sink = sink
        self._poll_s = poll_s
        self._lease = lease
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = False
        self.published = 0
        self.failures = 0
        self.batch_size = 500
        self._reached: int | None = None

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
        try:
            while not self._stopping:
                try:
                    await self.publish_pending()
                except Exception as error:  # a broken database or broker must not kill the relay
                    self.failures += 1
                    log.warning(
                        "outbox relay failed (%s: %s); retrying", type(error).__name__, error
                    )
                if self._stopping:
                    return
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self._poll_s)
                self._wake.clear()
        finally:
            if self._lease is not None:
                await to_thread.run_sync(self._lease.release)

    async def publish_pending(self) -> int:
        if self._lease is not None and not await to_thread.run_sync(self._lease.hold):
            return 0
        if self._housekeeping is not None and time.monotonic() >= self._housekeeping_due:
            # A backstop, not a per-event step: at most once a second.
            self._housekeeping_due = time.monotonic() + 1.0
            await to_thread.run_sync(self._housekeeping)
        published = 0
        while True:
            batch = await to_thread.run_sync(self._take_batch)
            if not batch:
                return published
            batch = _with_horizon(batch, self._reached)
            if isinstance(self._sink, JetStreamLink):
                await self._sink.publish(batch)
            else:
                for envelope in batch:
                    self._sink.publish(envelope)
            await to_thread.run_sync(self._mark, [e.id for e in batch])
            for envelope in batch:
                log.info(
                    "event published",
                    extra={
                        "event_id": envelope.id,
                        "event_type": envelope.type,
                        "incident_id": envelope.incident_id,
                        "unit_id": envelope.unit_id,
                    },
                )
            published += len(batch)
            self.published += len(batch)

    def _take_batch(self) -> list[EventEnvelope]:
        with self._uow.read() as session:
            reached = outbox.horizon(session)
            batch = outbox.unpublished(session, limit=self.batch_size)
        # A full batch may have left rows below the horizon for the next one: promise nothing.
        self._reached = reached if len(batch) < self.batch_size else None
        return batch

    def _mark(self, ids: list[int]) -> None:
        with self._uow.begin() as session:
            outbox.mark_published(session, ids, at=datetime.now(UTC))


def _with_horizon(batch: list[EventEnvelope], reached: int | None) -> list[EventEnvelope]:
    """Stamps the horizon on the batch's last event: only after it is every earlier one delivered."""
    if reached is None:
        return batch
    return [*batch[:-1], batch[-1].model_copy(update={"horizon": reached})]
