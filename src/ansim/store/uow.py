"""The unit of work: one transaction owned by one command handler, with after-commit hooks."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session, sessionmaker

from ansim.store.db import writer_turn

log = logging.getLogger(__name__)

# Set in a session by `wake_after_commit`; read once the transaction has committed.
_WAKE = "ansim.wake_after_commit"
# Work a transaction asks for once it has committed, each in a transaction of its own.
_FOLLOW_UPS = "ansim.follow_ups"


class UnitOfWork:
    """Opens a session per command; `commit()` runs the after-commit hooks (event relay wake-up)."""

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._session_factory = session_factory
        self._after_commit: list[Callable[[], None]] = []

    def add_after_commit(self, hook: Callable[[], None]) -> None:
        """Runs `hook` after each commit of a transaction marked with `wake_after_commit`."""
        self._after_commit.append(hook)

    @contextmanager
    def begin(self) -> Iterator[Session]:
        """Yields a session in a transaction; commits on success, rolls back on any error.

        SQLite has one writer at a time (BEGIN IMMEDIATE). PostgreSQL writers run and commit
        concurrently: no cluster-wide lock; outbox readers are complete by the visibility horizon
        and ordered per incident by its sequence (ansim.store.outbox). The hooks run after the
        commit, outside the transaction, so waking readers never lengthens or serialises one.
        """
        with writer_turn(self._session_factory.kw.get("bind")), self._session_factory() as session:
            with session.begin():
                session.connection(execution_options={"sqlite_immediate": True})
                yield session
            follow_ups: dict[str, Callable[[UnitOfWork], object]] = session.info.pop(
                _FOLLOW_UPS, {}
            )
            if session.info.pop(_WAKE, False):
                for hook in self._after_commit:
                    hook()
        for name, follow_up in follow_ups.items():
            try:
                follow_up(self)
            except Exception as error:  # committed already: a later run catches up, never a 500
                log.warning("after-commit %s failed (%s: %s)", name, type(error).__name__, error)

    @contextmanager
    def read(self) -> Iterator[Session]:
        """Yields a session for queries; objects stay readable after the block.

        On PostgreSQL the transaction is READ ONLY (a stray write fails loudly, never commits)
        and ends in COMMIT: psycopg forgets a connection's prepared statements at every ROLLBACK,
        and read sessions ending in one had the SOS path's statements parsed and planned anew
        (issue 15). On SQLite closing ends it (close detaches without expiring; rollback would
        expire). A block that raises ends in ROLLBACK on both.
        """
        with self._session_factory() as session:
            if not self._postgres:
                yield session
                return
            # psycopg opens the transaction as BEGIN READ ONLY: no statement of its own.
            session.connection(execution_options={"postgresql_readonly": True})
            yield session
            session.expire_on_commit = False  # readable after the block, as on SQLite
            session.commit()

    @property
    def _postgres(self) -> bool:
        bind = self._session_factory.kw.get("bind")
        return bind is not None and str(bind.dialect.name) == "postgresql"


def wake_after_commit(session: Session) -> None:
    """Marks the transaction as one the after-commit hooks (event relay, notifier) must hear of.

    `outbox.emit` marks every transaction that queues an event, and every delivery queues one;
    the rest (a terminal heartbeat, a login) commit without waking anyone.
    """
    session.info[_WAKE] = True


def after_commit(session: Session, name: str, follow_up: Callable[[UnitOfWork], object]) -> None:
    """Runs `follow_up(uow)` once after this transaction commits (not if it rolls back), outside it.

    For work that must not hold up or serialise the writer: the audit chain's sealing, say. Named,
    so a transaction that asks twice gets it once; a session not opened by `UnitOfWork.begin`
    (a deadline's claim transaction) runs it when that transaction's own unit of work commits.
    """
    session.info.setdefault(_FOLLOW_UPS, {})[name] = follow_up
