"""Group commit for terminal heartbeats: messages from HTTP and MQTT wait a few ms and commit together.

Each caller awaits its own outcome, which exists only after the batch's transaction committed: a
heartbeat is acknowledged only once stored, and a crash before the commit loses nothing that was
acknowledged. A batch is flushed after `window_s` from its first message or at `max_batch`
messages, whichever comes first; the next batch gathers while one commits (at most
MAX_COMMITTING at once).
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref

from starlette.concurrency import run_in_threadpool

from ansim.services.heartbeats import HeartbeatOutcome, do_record_heartbeats
from ansim.services.platform import Platform
from ansim.store.uow import UnitOfWork

# Batches committing at once: the next batch's transaction overlaps the round trips of the one
# before it (PostgreSQL), without letting a backlog open a transaction per few messages.
MAX_COMMITTING = 2


class HeartbeatBatcher:
    def __init__(
        self, platform: Platform, *, window_s: float = 0.005, max_batch: int = 200
    ) -> None:
        self._platform = platform
        self._window_s = window_s
        self._max_batch = max_batch
        self._waiting: list[tuple[bytes, asyncio.Future[HeartbeatOutcome]]] = []
        self._full = asyncio.Event()
        self._flusher: asyncio.Task[None] | None = None
        self._committing: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.batches = 0

    async def submit(self, raw: bytes) -> HeartbeatOutcome:
        """Stores one heartbeat with the others of its batch; returns once the batch committed."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # an app served again on a new loop (tests): start afresh
            self._loop, self._waiting, self._full = loop, [], asyncio.Event()
            self._flusher, self._committing = None, set()
        done: asyncio.Future[HeartbeatOutcome] = loop.create_future()
        self._waiting.append((raw, done))
        if len(self._waiting) >= self._max_batch:
            self._full.set()
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_while_waiting())
        return await done

    async def _flush_while_waiting(self) -> None:
        """Cuts batches until nothing waits: a message that came during a commit is never left
        behind (it goes into the next batch, which starts its window at once)."""
        while self._waiting:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._full.wait(), timeout=self._window_s)
            self._full.clear()
            batch = self._waiting[: self._max_batch]
            self._waiting = self._waiting[self._max_batch :]
            if len(self._waiting) >= self._max_batch:
                self._full.set()
            committing = asyncio.create_task(self._commit(batch))
            self._committing.add(committing)
            committing.add_done_callback(self._committing.discard)
            if len(self._committing) >= MAX_COMMITTING:
                await asyncio.wait(self._committing, return_when=asyncio.FIRST_COMPLETED)

    async def _commit(self, batch: list[tuple[bytes, asyncio.Future[HeartbeatOutcome]]]) -> None:
        try:
            outcomes = await run_in_threadpool(
                do_record_heartbeats, self._platform, batch=[raw for raw, _ in batch]
            )
        except Exception as error:  # the transaction failed: nobody is acknowledged
            for _, done in batch:
                if not done.done():
                    done.set_exception(error)
            return
        self.batches += 1
        for (_, done), outcome in zip(batch, outcomes, strict=True):
            if not done.done():
                done.set_result(outcome)


_BATCHERS: weakref.WeakKeyDictionary[UnitOfWork, HeartbeatBatcher] = weakref.WeakKeyDictionary()


def batcher_for(platform: Platform) -> HeartbeatBatcher:
    """The batcher of one app (keyed by its unit of work), made on first use."""
    batcher = _BATCHERS.get(platform.uow)
    if batcher is None:
        batcher = _BATCHERS[platform.uow] = HeartbeatBatcher(platform)
    return batcher
