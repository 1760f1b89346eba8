"""Waking the outbox readers of other processes on PostgreSQL: NOTIFY after commit, LISTEN in a thread.

In one process the unit of work wakes the relay directly after a commit. With several processes
(N API workers, a relay elsewhere) a reader would otherwise find a new event only at its next poll.
The NOTIFY is sent after the write transaction committed, in a transaction of its own: inside the
writer's transaction it would take PostgreSQL's notification lock at commit and serialise the
commits of every writer again. Readers stay correct without it (they poll); it only cuts latency.

The notification carries its engine's token, and a listener drops the ones of its own engine: that
process's readers were woken directly after the commit (UnitOfWork hooks), and each echo cost the
relay a round of three statements for nothing (about three an SOS).
"""

from __future__ import annotations

import logging
import threading
import uuid
import weakref
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from anyio import to_thread
from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)

CHANNEL = "ansim_outbox"
_TOKENS: weakref.WeakKeyDictionary[Engine, str] = weakref.WeakKeyDictionary()


def _token(engine: Engine) -> str:
    """Names the notifications of one engine (one process's, in practice)."""
    return _TOKENS.setdefault(engine, uuid.uuid4().hex)


def notify_hook(engine: Engine) -> Callable[[], None]:
    """An after-commit hook: tells the other processes that events were committed."""

    statement = f"NOTIFY {CHANNEL}, '{_token(engine)}'"

    def notify() -> None:
        try:
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.exec_driver_sql(statement)
        except sa.exc.SQLAlchemyError as error:  # a missed wake-up costs one poll, nothing more
            log.debug("outbox notify failed (%s)", type(error).__name__)

    return notify


class WakeListener:
    """LISTENs on a connection of its own and calls each hook when events were committed elsewhere."""

    def __init__(self, engine: Engine, hooks: list[Callable[[], None]]) -> None:
        self._engine = engine
        self._hooks = hooks
        self._stopping = threading.Event()
        self.heard = 0

    async def run(self) -> None:
        await to_thread.run_sync(self._listen_until_stopped)

    def stop(self) -> None:
        self._stopping.set()

    def _listen_until_stopped(self) -> None:
        while not self._stopping.is_set():
            try:
                self._listen()
            except Exception as error:  # the database may be away; listen again after a pause
                log.warning("outbox listener failed (%s); listening again", type(error).__name__)
                self._stopping.wait(1.0)

    def _listen(self) -> None:
        raw = self._engine.raw_connection()
        try:
            connection: Any = raw.driver_connection  # psycopg's own connection
            connection.autocommit = True
            connection.execute(f"LISTEN {CHANNEL}")
            own = _token(self._engine)
            while not self._stopping.is_set():
                notes = connection.notifies(timeout=0.5, stop_after=1)
                heard = sum(note.payload != own for note in notes)
                if heard:
                    self.heard += heard
                    for hook in self._hooks:
                        hook()
        finally:
            raw.invalidate()  # LISTEN state must not go back to the pool
            raw.close()
