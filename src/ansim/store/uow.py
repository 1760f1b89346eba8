"""The unit of work: one transaction owned by one command handler, with after-commit hooks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session, sessionmaker

from ansim.store.db import writer_turn

# Set in a session by `wake_after_commit`; read once the transaction has committed.
_WAKE = "ansim.wake_after_commit"


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
            if session.info.pop(_WAKE, False):
                for hook in self._after_commit:
                    hook()

    @contextmanager
    def read(self) -> Iterator[Session]:
        """Yields a session for queries; closing it ends the transaction without a commit.

        Objects stay readable after the block (close detaches without expiring; rollback would expire).
        """
        with self._session_factory() as session:
            yield session


def wake_after_commit(session: Session) -> None:
    """Marks the transaction as one the after-commit hooks (event relay, notifier) must hear of.

    `outbox.emit` marks every transaction that queues an event, and every delivery queues one;
    the rest (a terminal heartbeat, a login) commit without waking anyone.
    """
    session.info[_WAKE] = True
