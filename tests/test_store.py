"""The store on both databases: one transaction holds the change, its timeline entry and its outbox row."""

from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from tests.factories import CITY_HALL, T0, build_world
from tests.verifykit import receive_sos_with

from ansim.domain.errors import Conflict, NotFound
from ansim.domain.fixes import FixMethod, LocationFix
from ansim.domain.incidents import Channel, IncidentStatus
from ansim.domain.units import AssignmentState, UnitStatus
from ansim.services import dispatch, incidents
from ansim.services.incidents import SosReport
from ansim.services.ranking import StraightLineRanker
from ansim.store import outbox
from ansim.store.db import make_session_factory
from ansim.store.tables import (
    idempotency_keys,
    incident_events,
    location_fixes,
)
from ansim.store.tables import (
    incidents as incidents_table,
)
from ansim.store.tables import outbox as outbox_table
from ansim.store.uow import UnitOfWork

WINDOW = timedelta(minutes=30)


def report(subscriber_id: str | None, key: str | None = "key-0001", **extra: object) -> SosReport:
    fix = LocationFix(
        lat=CITY_HALL[0],
        lon=CITY_HALL[1],
        radius_m=30,
        method=FixMethod.GNSS,
        observed_at=T0,
        source="app:test",
    )
    values: dict[str, object] = {
        "channel": Channel.APP,
        "received_at": T0,
        "source": "app:test",
        "subscriber_id": subscriber_id,
        "fix": fix,
        "idempotency_scope": "app:test",
        "idempotency_key": key,
    } | extra
    return SosReport(**values)  # type: ignore[arg-type]


def counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
            for t in (
                incidents_table,
                incident_events,
                outbox_table,
                location_fixes,
                idempotency_keys,
            )
        }


def test_an_sos_is_stored_with_timeline_fix_and_outbox_and_the_nearest_unit_is_ordered(
    engine: Engine,
) -> None:
    world = build_world(engine)
    uow = UnitOfWork(make_session_factory(engine))
    outcome = receive_sos_with(
        uow,
        report=report(world.subscriber_id),
        ranker=StraightLineRanker(),
        merge_window=WINDOW,
        auto_dispatch=True,
    )
    assert outcome.created
    assert not outcome.replayed
    with uow.read() as session:
        stored = incidents.get(session, incident_id=outcome.incident.id)
        # Dispatch first, verify after: the guardians are being asked once the unit is ordered.
        assert stored.status == IncidentStatus.VERIFYING
        assert (stored.lat, stored.lon, stored.radius_m) == (CITY_HALL[0], CITY_HALL[1], 30)
        assert stored.received_at == T0
        [assignment] = dispatch.incident_assignments(session, incident_id=stored.id)
        assert assignment.unit_id == world.unit_ids["태평로11"]  # the closest of the three
        assert assignment.state == AssignmentState.ORDERED
        kinds = [e.kind for e in incidents.timeline(session, incident_id=stored.id)]
        assert kinds[:3] == ["received", "unit_ordered", "status_changed"]
        assert "verification_started" in kinds
        types = [e.type for e in outbox.unpublished(session)]
    assert types[:5] == [
        "incident.received",
        "incident.located",
        "unit.status_changed",
        "unit.ordered",
        "incident.status_changed",
    ]
    assert "verification.started" in types


def test_a_retry_with_the_same_key_returns_the_same_incident(engine: Engine) -> None:
    world = build_world(engine)
    uow = UnitOfWork(make_session_factory(engine))
    first = receive_sos_with(
        uow,
        report=report(world.subscriber_id),
        ranker=StraightLineRanker(),
        merge_window=WINDOW,
        auto_dispatch=False,
    )
    before = counts(engine)
    again = receive_sos_with(
        uow,
        report=report(world.subscriber_id),
        ranker=StraightLineRanker(),
        merge_window=WINDOW,
        auto_dispatch=False,
    )
    assert again.replayed
    assert again.incident.id == first.incident.id
    assert counts(engine) == before


def test_a_second_sos_from_the_same_person_joins_the_open_incident(engine: Engine) -> None:
    world = build_world(engine)
    uow = UnitOfWork(make_session_factory(engine))
    first = receive_sos_with(
        uow,
        report=report(world.subscriber_id),
        ranker=StraightLineRanker(),
        merge_window=WINDOW,
        auto_dispatch=False,
    )
    second = receive_sos_with(
        uow,
        report=report(world.subscriber_id, key="key-0002", received_at=T0 + timedelta(minutes=1)),
        ranker=StraightLineRanker(),
        merge_window=WINDOW,
        auto_dispatch=False,
    )
    assert not second.created
    assert second.incident.id == first.incident.id
    assert second.incident.sos_count == 2
    unknown = receive_sos_with(
        uow,
        report=report(None, key="key-0003"),
        ranker=StraightLineRanker(),
        merge_window=WINDOW,
        auto_dispatch=False,
    )
    assert unknown.created
    assert unknown.incident.unknown_caller


def test_a_failed_command_leaves_nothing_half_written(engine: Engine) -> None:
    world = build_world(engine)
    uow = UnitOfWork(make_session_factory(engine))
    before = counts(engine)
    with pytest.raises(NotFound), uow.begin() as session:
        incidents.receive_sos(session, report=report(world.subscriber_id), merge_window=WINDOW)
        dispatch.order_unit(
            session,
            incident_id="no-such-incident",
            unit_id=world.unit_ids["종로31"],
            actor="t",
            at=T0,
        )
    assert counts(engine) == before


def test_a_busy_unit_cannot_be_ordered_and_the_unit_flow_moves_the_incident(engine: Engine) -> None:
    world = build_world(engine)
    uow = UnitOfWork(make_session_factory(engine))
    outcome = receive_sos_with(
        uow,
        report=report(world.subscriber_id),
        ranker=StraightLineRanker(),
        merge_window=WINDOW,
        auto_dispatch=True,
    )
    unit_id = world.unit_ids["태평로11"]
    with pytest.raises(Conflict, match="not available"), uow.begin() as session:
        dispatch.order_unit(
            session, incident_id=outcome.incident.id, unit_id=unit_id, actor="t", at=T0
        )
    for status in (UnitStatus.EN_ROUTE, UnitStatus.ON_SCENE, UnitStatus.AVAILABLE):
        with uow.begin() as session:
            dispatch.change_unit_status(
                session,
                unit_id=unit_id,
                status=status,
                actor="officer",
                at=T0 + timedelta(minutes=4),
            )
    with uow.read() as session:
        [assignment] = dispatch.incident_assignments(session, incident_id=outcome.incident.id)
        assert assignment.state == AssignmentState.CLEARED
        assert assignment.acknowledged_at
        assert assignment.arrived_at
        assert assignment.cleared_at
        assert (
            incidents.get(session, incident_id=outcome.incident.id).status
            == IncidentStatus.ON_SCENE
        )


def test_only_a_transaction_that_queued_events_wakes_the_relay_and_notifier(engine: Engine) -> None:
    uow = UnitOfWork(make_session_factory(engine))
    woken: list[str] = []
    uow.add_after_commit(lambda: woken.append("relay"))
    with uow.begin() as session:  # a write without events (a heartbeat, a login) wakes nobody
        session.execute(sa.text("DELETE FROM seen_signatures"))
    assert woken == []
    with uow.begin() as session:
        outbox.emit(
            session,
            "terminal.lost",
            {"terminal_id": "UA-1", "subscriber_id": "s", "last_seen_at": T0, "battery_pct": 50},
            at=T0,
        )
    assert woken == ["relay"]
    with pytest.raises(RuntimeError), uow.begin() as session:  # rolled back: nothing to hear of
        outbox.emit(
            session,
            "terminal.lost",
            {"terminal_id": "UA-1", "subscriber_id": "s", "last_seen_at": T0, "battery_pct": 50},
            at=T0,
        )
        raise RuntimeError("the command failed")
    assert woken == ["relay"]
