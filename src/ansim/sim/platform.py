"""What a simulation drives: the platform's real services, and who runs their background work."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import SecretStr
from sqlalchemy.engine import Engine

from ansim.api.context import AppContext
from ansim.bus.scheduler import DeadlineScheduler
from ansim.domain.deliveries import DeliveryChannel
from ansim.domain.dispatch_policy import DispatchPolicy
from ansim.notify.notifier import Notifier
from ansim.services.platform import Platform as Commands
from ansim.services.ranking import UnitRanker
from ansim.services.timers import deadline_handlers
from ansim.services.verification_config import VerificationConfig
from ansim.settings import Settings, VerificationSettings
from ansim.sim.phones import SimulatedSmsProvider
from ansim.store.db import make_session_factory
from ansim.store.uow import UnitOfWork


@dataclass(frozen=True)
class Platform:
    """The store, policies and configuration the simulated people meet, as a deployment has them.

    In virtual time nothing else runs, so the simulation fires the durable deadlines and sends the
    queued messages itself, at its own clock (`scheduler`, `notifier`). Served (the live demo), the
    app's own scheduler and notifier do it on the same clock, and these are None: one owner each.
    """

    uow: UnitOfWork
    ranker: UnitRanker
    policy: DispatchPolicy
    verification: VerificationConfig
    merge_window: timedelta
    # The command layer's dependencies object on the simulation's clock: what commands take.
    commands: Commands
    auto_dispatch: bool = True
    scheduler: DeadlineScheduler | None = None
    notifier: Notifier | None = None

    @classmethod
    def own(
        cls,
        engine: Engine,
        *,
        clock: Callable[[], datetime],
        ranker: UnitRanker,
        sms: SimulatedSmsProvider,
        link_secret: str,
    ) -> Platform:
        """A platform of the simulation's own on `engine`, configured as the settings' defaults."""
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
        uow = UnitOfWork(make_session_factory(engine))
        commands = Commands(
            uow=uow,
            ranker=ranker,
            policy=policy,
            verification=verification,
            merge_window=timedelta(seconds=defaults["merge_window_s"]),
            auto_dispatch=defaults["auto_dispatch"],
            clock=clock,
        )
        return cls(
            uow=uow,
            ranker=ranker,
            policy=policy,
            verification=verification,
            merge_window=timedelta(seconds=defaults["merge_window_s"]),
            commands=commands,
            auto_dispatch=defaults["auto_dispatch"],
            scheduler=DeadlineScheduler(uow, deadline_handlers(commands), clock=clock),
            notifier=Notifier(
                uow, {DeliveryChannel.SMS: sms}, clock=clock, retry=verification.retry
            ),
        )

    @classmethod
    def served(cls, context: AppContext) -> Platform:
        """The running app's own: its unit of work (whose commits wake the relay), ranker and policy."""
        if context.verification is None:
            raise ValueError("the served app has no verification configured")
        return cls(
            uow=context.uow,
            ranker=context.ranker,
            policy=context.dispatch_policy,
            verification=context.verification,
            merge_window=timedelta(seconds=context.settings.merge_window_s),
            commands=context.platform,
            auto_dispatch=context.settings.auto_dispatch,
        )
