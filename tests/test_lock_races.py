"""Races the old global write lock hid, on PostgreSQL's concurrent writers.

Each test lets one transaction do its work and hold it uncommitted for a moment while a second one
starts the same kind of work: without the right lock the second would decide on a stale read.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from tests.factories import CITY_HALL, build_world

from ansim.domain.incidents import Channel
from ansim.services import dispatch
from ansim.services import incidents as incident_service
from ansim.services.incidents import SosOutcome, SosReport
from ansim.services.ranking import StraightLineRanker
from ansim.store.db import make_session_factory
from ansim.store.tables import incidents
from ansim.store.uow import UnitOfWork

AT = datetime(2026, 12, 5, 1, 30, tzinfo=UTC)
HOLD_S = 0.4  # how long the first writer keeps its work uncommitted
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.parametrize("database_url", ["postgres"], indirect=True),
]


def test_two_presses_for_one_person_from_two_channels_at_once_make_one_incident(
    engine: Engine,
) -> None:
    world = build_world(engine)
    uow = UnitOfWork(make_session_factory(engine))
    first_in = threading.Event()

    def press(channel: Channel, hold: bool) -> SosOutcome:
        report = SosReport(
            channel=channel, received_at=AT, source=channel.value, subscriber_id=world.subscriber_id
        )
        with uow.begin() as session:
            outcome = incident_service.receive_sos(
                session, report=report, merge_window=timedelta(minutes=10)
            )
            if hold:
                first_in.set()
                time.sleep(HOLD_S)  # the app's press is in, not committed yet
        return outcome

    outcomes = _two_at_once(
        lambda: press(Channel.APP, hold=True),
        lambda: (first_in.wait(5), press(Channel.ONE_TOUCH, hold=False))[1],
    )
    assert all(isinstance(o, SosOutcome) for o in outcomes), outcomes
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(incidents.c.id, incidents.c.sos_count).where(
                incidents.c.subscriber_id == world.subscriber_id
            )
        ).all()
    assert len(rows) == 1, "one person, one incident"
    assert rows[0].sos_count == 2
    assert [o.created for o in outcomes if isinstance(o, SosOutcome)] == [True, False]


def test_a_ranked_unit_taken_by_a_concurrent_order_leads_to_the_next_unit(engine: Engine) -> None:
    world = build_world(engine)
    uow = UnitOfWork(make_session_factory(engine))
    ranker = StraightLineRanker()
    incident_ids = []
    for number in ("+821011112222", "+821033334444"):
        with uow.begin() as session:
            outcome = incident_service.receive_sos(
                session,
                report=SosReport(
                    channel=Channel.ONE_TOUCH, received_at=AT, source="test", caller_number=number
                ),
                merge_window=timedelta(minutes=10),
            )
            session.execute(
                incidents.update()
                .where(incidents.c.id == outcome.incident.id)
                .values(lat=CITY_HALL[0], lon=CITY_HALL[1], radius_m=30.0)
            )
            incident_ids.append(outcome.incident.id)
    nearest = world.unit_ids["태평로11"]
    ordered = threading.Event()

    def dispatcher_orders_the_nearest() -> str:
        with uow.begin() as session:
            assignment = dispatch.order_unit(
                session, incident_id=incident_ids[0], unit_id=nearest, actor="dispatcher", at=AT
            )
            ordered.set()
            time.sleep(HOLD_S)  # ordered, not committed yet: the unit still looks available
            return assignment.unit_id

    def auto_dispatch_of_the_second_sos() -> str | None:
        ordered.wait(5)
        with uow.begin() as session:
            incident = incident_service.get(session, incident_id=incident_ids[1])
            ranked = dispatch.rank_units(session, incident=incident, ranker=ranker)
            assert ranked[0].unit.id == nearest, "ranked before the first order committed"
            assignment = dispatch.order_best_unit(
                session, incident=incident, ranker=ranker, actor="auto-dispatch", at=AT
            )
            return None if assignment is None else assignment.unit_id

    first, second = _two_at_once(dispatcher_orders_the_nearest, auto_dispatch_of_the_second_sos)
    assert first == nearest
    assert second == world.unit_ids["남대문21"], f"the next unit, not a failure: {second!r}"
    with engine.connect() as connection:
        orders = connection.execute(
            sa.text("SELECT unit_id FROM assignments WHERE unit_id = :u"), {"u": nearest}
        ).all()
    assert len(orders) == 1, "the nearest unit was ordered once"


def _two_at_once(first: Callable[[], object], second: Callable[[], object]) -> list[object]:
    """Runs both in threads at once; returns their results, or the exception each raised."""
    results: list[object] = [None, None]

    def run(slot: int, work: Callable[[], object]) -> None:
        try:
            results[slot] = work()
        except Exception as error:  # the test asserts on it
            results[slot] = error

    threads = [threading.Thread(target=run, args=(n, w)) for n, w in enumerate((first, second))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    return results
