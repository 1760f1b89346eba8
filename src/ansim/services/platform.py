"""What every command needs, the same for the served app, the scheduler and the simulator."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from ansim.domain.dispatch_policy import DispatchPolicy
from ansim.services.ranking import UnitRanker
from ansim.services.verification_config import VerificationConfig
from ansim.store.uow import UnitOfWork


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Platform:
    """The dependencies object of the command layer: store, clock, ranker and policies.

    Every `do_*` command takes it first. Routes, bridges, deadline handlers and the simulator build
    none of their own: the app factory makes one, the simulator makes one on its virtual clock.
    """

    uow: UnitOfWork
    ranker: UnitRanker
    policy: DispatchPolicy
    verification: VerificationConfig
    merge_window: timedelta = timedelta(minutes=30)
    auto_dispatch: bool = True
    clock: Callable[[], datetime] = field(default=utc_now)

    def now(self) -> datetime:
        return self.clock()


@contextmanager
def transaction(platform: Platform, session: Session | None = None) -> Iterator[Session]:
    """The command's transaction: its own, or the one it is given (a deadline's claim transaction).

    A command given a session neither commits nor rolls back: its caller owns that transaction, so
    claim, effect and "fired" commit together and a deadline fires exactly once.
    """
    if session is not None:
        yield session
        return
    with platform.uow.begin() as own:
        yield own
