"""Waking the outbox readers of other processes on PostgreSQL: NOTIFY after commit, LISTEN in a thread.

In one process the unit of work wakes the relay directly after a commit. With several processes
(N API workers, a relay elsewhere) a reader would otherwise find a new event only at its next poll.
The NOTIFY is sent after the write transaction committed, in a transaction of its own: inside the
writer's transaction it would take PostgreSQL's notification lock at commit and serialise the
commits of every writer again. Readers stay correct without it (they poll); it only cuts latency.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from anyio import to_thread
from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)

CHANNEL = "ansim_outbox"


def notify_hook(engine: Engine) -> Callable[[], None]:
    """An after-commit hook: tells the other processes that events were committed."""

    def notify() -> None:
        try:
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.exec_driver_sql(f"NOTIFY {CHANNEL}")
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
            while not self._stopping.is_set():
                heard = len(list(connection.notifies(timeout=0.5, stop_after=1)))
                if heard:
                    self.heard += heard
                    for hook in self._hooks:
                        hook()
        finally:
            raw.invalidate()  # LISTEN state must not go back to the pool
            raw.close()
