"""The deadline scheduler: fires due deadlines exactly once, each in the transaction of its effects."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from anyio import to_thread
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from ansim.store import deadlines
from ansim.store.deadlines import Deadline
from ansim.store.uow import UnitOfWork

log = logging.getLogger(__name__)

# A handler applies the deadline's consequence (reassign the order, escalate...) in `session`.
DeadlineHandler = Callable[[Session, Deadline, datetime], None]
RETRY_AFTER = timedelta(seconds=5)


class DeadlineScheduler:
    def __init__(
        self,
        uow: UnitOfWork,
        handlers: Mapping[str, DeadlineHandler],
        *,
        clock: Callable[[], datetime],
        poll_s: float = 0.5,
    ) -> None:
        self._uow = uow
        self._handlers = handlers
        self._clock = clock
        self._poll_s = poll_s
        self._stopping = asyncio.Event()

    def fire_due(self, now: datetime | None = None) -> int:
        """Fires every deadline due at `now` (default: the clock); returns how many fired."""
        now = now or self._clock()
        fired = 0
        while True:
            with self._uow.begin() as session:
                due = deadlines.claim_due(session, now=now, limit=1)
                if not due:
                    return fired
                deadline = due[0]
                handler = self._handlers.get(deadline.kind)
                if handler is None:
                    log.error("no handler for deadline kind %s; parking it", deadline.kind)
                    deadlines.postpone_after_failure(
                        session, deadline_id=deadline.id, until=now + timedelta(hours=1)
                    )
                    continue
                try:
                    with session.begin_nested():
                        handler(session, deadline, now)
                        deadlines.mark_fired(session, deadline_id=deadline.id, at=now)
                    fired += 1
                except Exception:  # a failing handler must not block the others; it is retried
                    log.exception(
                        "deadline %s (%s) failed; retrying later", deadline.id, deadline.kind
                    )
                    deadlines.postpone_after_failure(
                        session, deadline_id=deadline.id, until=now + RETRY_AFTER
                    )

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                await to_thread.run_sync(self.fire_due)
            except OperationalError as error:  # the database is away; the deadlines wait in it
                log.warning(
                    "deadline scheduler cannot reach the database (%s); retrying", error.orig
                )
            except Exception:
                log.exception("deadline scheduler failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=self._poll_s)

    def stop(self) -> None:
        self._stopping.set()
