"""A simulation of its own: the command layer's Platform on its store and virtual clock, configured as
a deployment's defaults, and the scheduler and notifier the simulation runs itself in virtual time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from pydantic import SecretStr
from sqlalchemy.engine import Engine

from ansim.bus.scheduler import DeadlineScheduler
from ansim.domain.deliveries import DeliveryChannel
from ansim.domain.dispatch_policy import DispatchPolicy
from ansim.notify.notifier import Notifier
from ansim.services.platform import Platform
from ansim.services.ranking import UnitRanker
from ansim.services.timers import deadline_handlers
from ansim.services.verification_config import VerificationConfig
from ansim.settings import Settings, VerificationSettings
from ansim.sim.phones import SimulatedSmsProvider
from ansim.store.db import make_session_factory
from ansim.store.uow import UnitOfWork


def own_platform(
    engine: Engine, *, clock: Callable[[], datetime], ranker: UnitRanker, link_secret: str
) -> Platform:
    """The same dependencies object the served app builds, on `engine` and the simulation's clock."""
    # The settings' defaults, never this machine's ANSIM_* variables: a run must be reproducible.
    defaults = {name: field.default for name, field in Settings.model_fields.items()}
    verification = VerificationConfig.from_settings(
        VerificationSettings.model_construct(link_secret=SecretStr(link_secret))
    )
    policy = DispatchPolicy(
        ack_timeout_s=defaults["ack_timeout_s"],
        code0_extra_units=defaults["code0_extra_units"],
        retry_s=defaults["dispatch_retry_s"],
        unit_rest_s=defaults["unit_rest_s"],
        order_within_s=defaults["order_within_s"],
    )
    return Platform(
        uow=UnitOfWork(make_session_factory(engine)),
        ranker=ranker,
        policy=policy,
        verification=verification,
        merge_window=timedelta(seconds=defaults["merge_window_s"]),
        auto_dispatch=defaults["auto_dispatch"],
        clock=clock,
    )


def own_scheduler(platform: Platform) -> DeadlineScheduler:
    """Fires the durable deadlines at the simulation's clock, through the same handlers as served."""
    return DeadlineScheduler(platform.uow, deadline_handlers(platform), clock=platform.clock)


def own_notifier(platform: Platform, sms: SimulatedSmsProvider) -> Notifier:
    """Sends queued messages to the simulated phones at the simulation's clock."""
    return Notifier(
        platform.uow,
        {DeliveryChannel.SMS: sms},
        clock=platform.clock,
        retry=platform.verification.retry,
    )
