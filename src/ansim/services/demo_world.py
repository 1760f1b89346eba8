"""The demo world: real Seoul police boxes and schools, generated (clearly fictional) people and units."""

from __future__ import annotations

import random
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from ansim.cctv import access
from ansim.domain.incidents import Channel
from ansim.domain.people import Guardian, Subscriber
from ansim.domain.staff import Role
from ansim.domain.units import Station, StationKind, Unit, UnitStatus
from ansim.geo.demo_data import (
    FacilityKind,
    PoliceFacility,
    School,
    load_districts,
    load_police_facilities,
    load_road_graph,
    load_schools,
)
from ansim.services import people, staff
from ansim.services.platform import Platform, transaction
from ansim.store.uow import UnitOfWork

DEMO_PASSWORD = "ansim-demo-112"  # noqa: S105 — printed for the demo; production refuses demo accounts
_KINDS = {
    FacilityKind.STATION: StationKind.POLICE_STATION,
    FacilityKind.DISTRICT_UNIT: StationKind.DISTRICT_UNIT,
    FacilityKind.BOX: StationKind.POLICE_BOX,
}
# Fictional names: common family and given names, combined at random; no real person is meant.
_FAMILY = "김이박최정강조윤장임한오서신권황안송류홍"
_GIVEN = [
    "하늘",
    "서연",
    "민준",
    "지우",
    "서준",
    "하은",
    "도윤",
    "수아",
    "예준",
    "지호",
    "하린",
    "시우",
    "아린",
    "주원",
    "유나",
]
_RELATIONS = ["mother", "father", "grandmother"]


@dataclass
class DemoWorld:
    stations: list[Station] = field(default_factory=list)
    units: list[Unit] = field(default_factory=list)
    subscribers: list[tuple[Subscriber, School, str]] = field(default_factory=list)
    accounts: list[tuple[str, Role]] = field(default_factory=list)
    cctv_district: str = ""


def cctv_demo_district() -> str:
    """The demo CCTV operator's district: the 자치구 holding the most demo schools (종로구).

    An operator has one district until issue 17 gives staff several; the demo's drill SOS happen
    near its schools, so this district sees the largest share of them."""
    districts = load_districts()
    counts = Counter(
        d.name_ko for s in schools_in_demo_area() for d in districts if d.contains(s.lat, s.lon)
    )
    return counts.most_common(1)[0][0]


def facilities_in_demo_area() -> list[PoliceFacility]:
    graph = load_road_graph()
    south, north = float(graph.node_lat.min()), float(graph.node_lat.max())
    west, east = float(graph.node_lon.min()), float(graph.node_lon.max())
    return [
        f
        for f in load_police_facilities()
        if f.kind in _KINDS and south <= f.lat <= north and west <= f.lon <= east
    ]


def schools_in_demo_area() -> list[School]:
    graph = load_road_graph()
    south, north = float(graph.node_lat.min()), float(graph.node_lat.max())
    west, east = float(graph.node_lon.min()), float(graph.node_lon.max())
    return [s for s in load_schools() if south <= s.lat <= north and west <= s.lon <= east]


def do_seed_demo_world(
    platform: Platform, *, seed_value: int = 112, pupils: int = 24, session: Session | None = None
) -> DemoWorld:
    """Fills an empty database with the demo world (the demo, the simulation), at the platform's now."""
    with transaction(platform, session) as own:
        return seed_world(own, at=platform.now(), seed_value=seed_value, pupils=pupils)


def seed(uow: UnitOfWork, *, at: datetime, seed_value: int = 112, pupils: int = 24) -> DemoWorld:
    """The demo world for a benchmark's setup, in a transaction of its own at `at`."""
    with uow.begin() as session:
        return seed_world(session, at=at, seed_value=seed_value, pupils=pupils)


def seed_world(
    session: Session, *, at: datetime, seed_value: int = 112, pupils: int = 24
) -> DemoWorld:
    """The demo world in the caller's transaction; the random generator is seeded, so it is the same each time."""
    rng = random.Random(seed_value)
    world = DemoWorld()
    for facility in facilities_in_demo_area():
        station = Station(
            id=str(uuid.uuid4()),
            name=facility.name,
            kind=_KINDS[facility.kind],
            lat=facility.lat,
            lon=facility.lon,
            district=facility.gu,
        )
        session.add(station)
        world.stations.append(station)
        if station.kind == StationKind.POLICE_STATION:
            continue
        short = facility.name.removesuffix("지구대").removesuffix("파출소")
        for n in (1, 2) if station.kind == StationKind.DISTRICT_UNIT else (1,):
            unit = Unit(
                id=str(uuid.uuid4()),
                call_sign=f"{short}{n}",
                station_id=station.id,
                status=UnitStatus.AVAILABLE,
                status_at=at,
                lat=facility.lat + rng.uniform(-0.003, 0.003),
                lon=facility.lon + rng.uniform(-0.003, 0.003),
                position_at=at,
            )
            session.add(unit)
            world.units.append(unit)
    session.flush()
    for username, role in [
        ("dispatcher", Role.DISPATCHER),
        ("supervisor", Role.SUPERVISOR),
        ("admin", Role.ADMIN),
        ("cctv", Role.CCTV_OPERATOR),
    ]:
        user = staff.create_user(
            session,
            username=username,
            password=DEMO_PASSWORD,
            role=role,
            display_name=f"Demo {role.value}",
            at=at,
        )
        if role == Role.CCTV_OPERATOR:
            # The demo's operator watches every district the demo's stations stand in.
            demo_districts = sorted({s.district for s in world.stations if s.district})
            access.set_districts(
                session, user=user, districts=demo_districts, actor="demo-seed", at=at
            )
        world.accounts.append((username, role))
    cctv_operator = staff.find_user(session, username="cctv")
    assert cctv_operator is not None
    world.cctv_district = access.assign_area(
        session, user=cctv_operator, gu=cctv_demo_district(), actor="demo seed", at=at
    )
    for index, unit in enumerate(world.units[:3], start=1):
        username = f"officer{index}"
        staff.create_user(
            session,
            username=username,
            password=DEMO_PASSWORD,
            role=Role.OFFICER,
            display_name=f"{unit.call_sign} crew",
            at=at,
            unit_id=unit.id,
        )
        world.accounts.append((username, Role.OFFICER))
    schools = schools_in_demo_area()
    for number in range(pupils):
        school = schools[number % len(schools)]
        family = rng.choice(_FAMILY)
        pupil = Subscriber(
            id=str(uuid.uuid4()),
            name=f"{family}{rng.choice(_GIVEN)}",
            birth_year=rng.randint(2014, 2019),
            created_at=at,
            school=school.name,
            notes="데모용 가상 인물 / fictional demo person",
            consent_at=at,
        )
        session.add(pupil)
        session.flush()
        for order, relation in enumerate(rng.sample(_RELATIONS, 2), start=1):
            session.add(
                Guardian(
                    id=str(uuid.uuid4()),
                    subscriber_id=pupil.id,
                    name=f"{family}{rng.choice(_GIVEN)}",
                    phone=f"+82100000{number:02d}{order:02d}",
                    relation=relation,
                    call_order=order,
                )
            )
        people.bind(
            session,
            subscriber_id=pupil.id,
            channel=Channel.ONE_TOUCH,
            address=f"+82100001{number:04d}",
            at=at,
        )
        credential = people.issue_app_credential(session, subscriber_id=pupil.id, at=at)
        world.subscribers.append((pupil, school, credential))
    return world
