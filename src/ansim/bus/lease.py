"""Leadership for singleton loops on PostgreSQL: a session advisory lock held on a connection of its own."""

from __future__ import annotations

import logging

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

log = logging.getLogger(__name__)

# Advisory lock keys used by ansim (one place, so two features never pick the same number).
RELAY_LOCK = 0x616E_7369_0001
# 0x616E_7369_0002 ordered every writer on PostgreSQL until 0009_outbox_horizon; do not reuse it.


class AdvisoryLease:
    """Held while this process's connection lives; a killed holder's lease passes to the next one at once.

    `hold()` is blocking I/O: call it from a worker thread.
    """

    def __init__(self, engine: Engine, key: int) -> None:
        self._engine = engine
        self._key = key
        self._connection: Connection | None = None

    @property
    def held(self) -> bool:
        return self._connection is not None

    def hold(self) -> bool:
        """True while this process holds the lease (checking the connection is still alive)."""
        if self._connection is not None:
            try:
                self._connection.exec_driver_sql("SELECT 1")
                return True
            except sa.exc.DBAPIError:
                log.warning("lost the lease %x with its connection", self._key)
                self.release()
        try:
            connection = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        except sa.exc.DBAPIError:
            return False
        try:
            got = connection.execute(
                sa.text("SELECT pg_try_advisory_lock(:key)"), {"key": self._key}
            ).scalar_one()
        except sa.exc.DBAPIError:
            connection.close()
            return False
        if not got:
            connection.close()
            return False
        log.info("took the lease %x", self._key)
        self._connection = connection
        return True

    def release(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            connection.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": self._key})
            connection.close()
        except (
            sa.exc.SQLAlchemyError
        ):  # the connection is already broken; the server dropped the lock
            connection.invalidate()
            connection.close()
