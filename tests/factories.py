"""Small factories that build a tiny world through the real services."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ansim.domain.deliveries import RetryPolicy
from ansim.domain.dispatch_policy import DispatchPolicy
from ansim.domain.incidents import Channel
from ansim.domain.people import Guardian, Subscriber
from ansim.domain.staff import Role
from ansim.domain.units import Station, StationKind, Unit, UnitStatus
from ansim.services import people, staff
from ansim.services.platform import Platform
from ansim.services.ranking import StraightLineRanker, UnitRanker
from ansim.services.verification_config import VerificationConfig
from ansim.store.db import make_session_factory
from ansim.store.uow import UnitOfWork

T0 = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
CITY_HALL = (37.5665, 126.9780)
PASSWORD = "correct horse battery"


@dataclass
class World:
    station_id: str
    unit_ids: dict[str, str] = field(default_factory=dict)
    subscriber_id: str = ""
    app_credential: str = ""
    one_touch_number: str = "+821012345678"


def build_world(engine: Engine, *, at: datetime = T0) -> World:
    """One police box, three patrol cars near Seoul City Hall, staff of each role, one registered pupil."""
    uow = UnitOfWork(make_session_factory(engine))
    with uow.begin() as session:
        station = Station(
            id=str(uuid.uuid4()),
            name="태평로파출소",
            kind=StationKind.POLICE_BOX,
            lat=37.5670,
            lon=126.9770,
            district="중구",
        )
        session.add(station)
        world = World(station_id=station.id)
        for call_sign, (lat, lon) in {
            "태평로11": (37.5680, 126.9790),  # ~200 m from City Hall
            "남대문21": (37.5600, 126.9750),  # ~750 m
            "종로31": (37.5720, 126.9920),  # ~1.4 km
        }.items():
            unit = Unit(
                id=str(uuid.uuid4()),
                call_sign=call_sign,
                station_id=station.id,
                status=UnitStatus.AVAILABLE,
                status_at=at,
                lat=lat,
                lon=lon,
                position_at=at,
            )
            session.add(unit)
            world.unit_ids[call_sign] = unit.id
        session.flush()
        for role in Role:
            staff.create_user(
                session,
                username=role.value,
                password=PASSWORD,
                role=role,
                display_name=f"Test {role.value}",
                at=at,
                unit_id=world.unit_ids["태평로11"] if role == Role.OFFICER else None,
            )
        pupil = Subscriber(
            id=str(uuid.uuid4()),
            name="김하늘",
            birth_year=2016,
            created_at=at,
            school="서울덕수초등학교",
            consent_at=at,
        )
        session.add(pupil)
        session.flush()
        session.add(
            Guardian(
                id=str(uuid.uuid4()),
                subscriber_id=pupil.id,
                name="김민준",
                phone="+821098765432",
                relation="father",
            )
        )
        people.bind(
            session,
            subscriber_id=pupil.id,
            channel=Channel.ONE_TOUCH,
            address=world.one_touch_number,
            at=at,
        )
        world.subscriber_id = pupil.id
        world.app_credential = people.issue_app_credential(session, subscriber_id=pupil.id, at=at)
    return world


def commands(
    uow: UnitOfWork,
    *,
    ranker: UnitRanker | None = None,
    merge_window: timedelta = timedelta(minutes=30),
    auto_dispatch: bool = True,
    policy: DispatchPolicy | None = None,
    verification: VerificationConfig | None = None,
    clock: Callable[[], datetime] = lambda: T0,
) -> Platform:
    """The command layer's dependencies for a test: straight-line ranking and a known link key."""
    return Platform(
        uow=uow,
        ranker=ranker or StraightLineRanker(),
        policy=policy or DispatchPolicy(),
        verification=verification or TEST_VERIFICATION,
        merge_window=merge_window,
        auto_dispatch=auto_dispatch,
        clock=clock,
    )


TEST_VERIFICATION = VerificationConfig(
    answer_timeout=timedelta(seconds=60),
    link_key=b"a test key that is long enough!!",
    link_ttl=timedelta(hours=6),
    public_url="https://ansim.example",
    retry=RetryPolicy(max_attempts=3, base=timedelta(seconds=5), cap=timedelta(minutes=1)),
    terminal_notice_interval=timedelta(minutes=30),
)


def seal_audit(engine: Engine, *, patience_s: float = 20.0) -> None:
    """Chains audit entries still waiting for the sealer (PostgreSQL), so `audit_log` reads see them.

    The sealer takes only entries below the cluster's visibility horizon; on a shared server another
    database's transaction can hold that back for a moment, so this waits (bounded) until none is left.
    """
    from ansim.security import audit
    from ansim.store.tables import audit_pending

    uow = UnitOfWork(make_session_factory(engine))
    deadline = time.monotonic() + patience_s
    while True:
        audit.seal_all(uow)
        if engine.dialect.name != "postgresql" or time.monotonic() > deadline:
            return
        with engine.connect() as conn:
            if not conn.execute(sa.select(sa.func.count()).select_from(audit_pending)).scalar_one():
                return
        time.sleep(0.1)
