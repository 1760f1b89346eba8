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

from ansim.store import deadlines, outbox
from ansim.store.deadlines import Deadline
from ansim.store.uow import UnitOfWork

log = logging.getLogger(__name__)

# A handler applies the deadline's consequence (reassign the order, escalate...) in `session`.
DeadlineHandler = Callable[[Session, Deadline, datetime], None]
RETRY_AFTER = timedelta(seconds=5)
# A failing handler is retried with doubling waits up to this; never dropped ("silence = danger"
# must fire one day), and after ANNOUNCE_AFTER failures the board is told so a person can act.
RETRY_CAP = timedelta(minutes=5)
# Deadline kinds whose subject is an incident (the board shows the failure on its case).
_INCIDENT_KINDS = frozenset({"verification.answer", "dispatch.retry"})
ANNOUNCE_AFTER = 5


def retry_delay(attempts: int) -> timedelta:
    """The wait before the next try of a deadline that has failed `attempts` times before."""
    grown: timedelta = RETRY_AFTER * 2 ** min(attempts, 16)
    return min(grown, RETRY_CAP)


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
                except Exception as error:  # one failing handler must not block the others
                    wait = retry_delay(deadline.attempts)
                    log.exception(
                        "deadline %s (%s) failed %d times; retrying in %d s",
                        deadline.id,
                        deadline.kind,
                        deadline.attempts + 1,
                        wait.total_seconds(),
                    )
                    deadlines.postpone_after_failure(
                        session, deadline_id=deadline.id, until=now + wait
                    )
                    if deadline.attempts + 1 == ANNOUNCE_AFTER:
                        _announce_failing(session, deadline, error, now=now, next_try=now + wait)

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


def _announce_failing(
    session: Session, deadline: Deadline, error: Exception, *, now: datetime, next_try: datetime
) -> None:
    """Puts a deadline that keeps failing in front of the supervisor (it is still retried)."""
    outbox.emit(
        session,
        "deadline.failing",
        {
            "kind": deadline.kind,
            "subject_id": deadline.subject_id,
            "attempts": deadline.attempts + 1,
            "error": f"{type(error).__name__}: {error}"[:300],
            "next_try_at": next_try,
        },
        at=now,
        incident_id=deadline.subject_id if deadline.kind in _INCIDENT_KINDS else None,
    )
