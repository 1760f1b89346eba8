"""Helpers for verification tests: a config with a known key, and an SOS through the real handler."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from tests.factories import CITY_HALL, T0

from ansim.domain.deliveries import RetryPolicy
from ansim.domain.dispatch_policy import DispatchPolicy
from ansim.domain.fixes import FixMethod, LocationFix
from ansim.domain.incidents import Channel
from ansim.services.handlers import do_receive_sos
from ansim.services.incidents import SosOutcome, SosReport
from ansim.services.platform import Platform
from ansim.services.ranking import StraightLineRanker, UnitRanker
from ansim.services.verification_config import VerificationConfig
from ansim.store.db import make_session_factory
from ansim.store.tables import guardians
from ansim.store.uow import UnitOfWork

CONFIG = VerificationConfig(
    answer_timeout=timedelta(seconds=60),
    link_key=b"a test key that is long enough!!",
    link_ttl=timedelta(hours=6),
    public_url="https://ansim.example",
    retry=RetryPolicy(max_attempts=3, base=timedelta(seconds=5), cap=timedelta(minutes=1)),
    terminal_notice_interval=timedelta(minutes=30),
)


def uow_of(engine: Engine) -> UnitOfWork:
    return UnitOfWork(make_session_factory(engine))


def platform_of(
    uow: UnitOfWork,
    *,
    ranker: UnitRanker | None = None,
    policy: DispatchPolicy | None = None,
    clock: Callable[[], datetime] = lambda: T0,
) -> Platform:
    """The commands' dependencies on `uow`, with this kit's verification config and a fixed clock."""
    return Platform(
        uow=uow,
        ranker=ranker or StraightLineRanker(),
        policy=policy or DispatchPolicy(),
        verification=CONFIG,
        clock=clock,
    )


def send_sos(
    engine: Engine,
    subscriber_id: str,
    *,
    at: datetime = T0,
    channel: Channel = Channel.APP,
    auto_dispatch: bool = True,
    config: VerificationConfig = CONFIG,
) -> str:
    """An SOS at City Hall through the real handler; returns the incident id."""
    fix = LocationFix(
        lat=CITY_HALL[0],
        lon=CITY_HALL[1],
        radius_m=30,
        method=FixMethod.GNSS,
        observed_at=at,
        source="test",
    )
    outcome = do_receive_sos(
        platform_on(engine, auto_dispatch=auto_dispatch, config=config),
        report=SosReport(
            channel=channel, received_at=at, source="test", subscriber_id=subscriber_id, fix=fix
        ),
    )
    return outcome.incident.id


def platform_on(
    engine: Engine,
    *,
    auto_dispatch: bool = True,
    config: VerificationConfig = CONFIG,
    policy: DispatchPolicy | None = None,
    clock: Callable[[], datetime] = lambda: T0,
) -> Platform:
    """The command layer's dependencies on `engine`: straight-line ranking, default policy."""
    return Platform(
        uow=uow_of(engine),
        ranker=StraightLineRanker(),
        policy=policy or DispatchPolicy(),
        verification=config,
        merge_window=timedelta(minutes=30),
        auto_dispatch=auto_dispatch,
        clock=clock,
    )


def receive_sos_with(
    uow: UnitOfWork,
    *,
    report: SosReport,
    ranker: UnitRanker,
    merge_window: timedelta,
    auto_dispatch: bool,
    policy: DispatchPolicy | None = None,
    verify: VerificationConfig | None = None,
) -> SosOutcome:
    """`do_receive_sos` on a platform made of these parts (verification with CONFIG by default)."""
    platform = Platform(
        uow=uow,
        ranker=ranker,
        policy=policy or DispatchPolicy(),
        verification=verify or CONFIG,
        merge_window=merge_window,
        auto_dispatch=auto_dispatch,
        clock=lambda: report.received_at,
    )
    return do_receive_sos(platform, report=report)


def give_guardians_email(engine: Engine, subscriber_id: str, email: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            guardians.update().where(guardians.c.subscriber_id == subscriber_id).values(email=email)
        )


def count(engine: Engine, table: sa.Table, *where: sa.ColumnElement[bool]) -> int:
    with engine.connect() as conn:
        query = sa.select(sa.func.count()).select_from(table)
        return int(conn.execute(query.where(*where) if where else query).scalar_one())
