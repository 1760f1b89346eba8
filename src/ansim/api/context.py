"""What a running app holds: settings, the engine, the bus, the relay, and the command layer's Platform."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from ansim.bus.memory import InProcessBus
from ansim.bus.relay import OutboxRelay
from ansim.bus.scheduler import DeadlineScheduler
from ansim.domain.dispatch_policy import DispatchPolicy
from ansim.services.platform import Platform, utc_now
from ansim.services.ranking import UnitRanker
from ansim.services.verification_config import VerificationConfig
from ansim.settings import Settings
from ansim.store.uow import UnitOfWork

__all__ = ["AppContext", "utc_now"]

T = TypeVar("T")


@dataclass
class AppContext:
    """The app's wiring; commands get `platform`, the one dependencies object they all share."""

    settings: Settings
    engine: Engine
    bus: InProcessBus
    relay: OutboxRelay
    scheduler: DeadlineScheduler
    platform: Platform

    @property
    def uow(self) -> UnitOfWork:
        return self.platform.uow

    @property
    def ranker(self) -> UnitRanker:
        return self.platform.ranker

    @property
    def clock(self) -> Callable[[], datetime]:
        return self.platform.clock

    @property
    def dispatch_policy(self) -> DispatchPolicy:
        return self.platform.policy

    @property
    def verification(self) -> VerificationConfig:
        return self.platform.verification

    def now(self) -> datetime:
        return self.platform.now()

    async def read(self, query: Callable[[Session], T]) -> T:
        """`query` in a read session on a worker thread (the event loop never waits on the store)."""

        def run() -> T:
            with self.uow.read() as session:
                return query(session)

        return await run_in_threadpool(run)
