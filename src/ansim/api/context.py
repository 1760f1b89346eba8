"""What a running app holds: settings, the store, the bus, the relay, the ranker, the clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.engine import Engine

from ansim.bus.memory import InProcessBus
from ansim.bus.relay import OutboxRelay
from ansim.bus.scheduler import DeadlineScheduler
from ansim.domain.dispatch_policy import DispatchPolicy
from ansim.services.ranking import UnitRanker
from ansim.services.verification_config import VerificationConfig
from ansim.settings import Settings
from ansim.store.uow import UnitOfWork


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class AppContext:
    settings: Settings
    engine: Engine
    uow: UnitOfWork
    bus: InProcessBus
    relay: OutboxRelay
    scheduler: DeadlineScheduler
    ranker: UnitRanker
    clock: Callable[[], datetime] = field(default=utc_now)
    dispatch_policy: DispatchPolicy = field(default_factory=DispatchPolicy)
    verification: VerificationConfig | None = None

    def now(self) -> datetime:
        return self.clock()
