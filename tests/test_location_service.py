"""An incident's fixes fused in the store: estimate and ellipse stored, verdicts kept, bad fixes refused."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from tests.apiclient import app_request, running_app, staff_headers
from tests.factories import CITY_HALL, T0, World, build_world
from tests.verifykit import receive_sos_with

from ansim.domain.errors import InvalidInput
from ansim.domain.events import validate_event
from ansim.domain.fixes import FixMethod, LocationFix
from ansim.domain.incidents import Channel
from ansim.services import incidents, location
from ansim.services.incidents import SosReport
from ansim.services.ranking import StraightLineRanker
from ansim.store import outbox
from ansim.store.db import make_session_factory
from ansim.store.tables import location_fixes, location_tracks
from ansim.store.uow import UnitOfWork

WINDOW = timedelta(minutes=30)
# About 1 m of latitude and of longitude at City Hall, in degrees.
M_LAT = 1 / 111_195
M_LON = 1 / 88_200


def fix_at(
    seconds: float,
    north_m: float = 0.0,
    east_m: float = 0.0,
    radius_m: float = 60.0,
    method: FixMethod = FixMethod.WIFI,
) -> LocationFix:
    return LocationFix(
        lat=CITY_HALL[0] + north_m * M_LAT,
        lon=CITY_HALL[1] + east_m * M_LON,
        radius_m=radius_m,
        method=method,
        observed_at=T0 + timedelta(seconds=seconds),
        source="test",
    )


def open_incident(engine: Engine, world: World, first: LocationFix) -> tuple[UnitOfWork, str]:
    uow = UnitOfWork(make_session_factory(engine))
    outcome = receive_sos_with(
        uow,
        report=SosReport(
            channel=Channel.APP,
            received_at=first.observed_at,
            source="app:test",
            subscriber_id=world.subscriber_id,
            fix=first,
        ),
        ranker=StraightLineRanker(),
        merge_window=WINDOW,
        auto_dispatch=False,
    )
    return uow, outcome.incident.id


def add(uow: UnitOfWork, incident_id: str, fix: LocationFix, received_after_s: float = 1.0) -> str:
    with uow.begin() as session:
        incident = incidents.get(session, incident_id=incident_id, for_update=True)
        received_at = fix.observed_at + timedelta(seconds=received_after_s)
        return incidents.add_fix(
            session, incident=incident, fix=fix, received_at=received_at
        ).outcome.value


def verdicts(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(location_fixes.c.verdict).order_by(location_fixes.c.id))
        return [r[0] for r in rows]


def test_several_fixes_fuse_into_a_tighter_ellipse_stored_on_the_incident(engine: Engine) -> None:
    world = build_world(engine)
    uow, incident_id = open_incident(engine, world, fix_at(0, radius_m=80))
    for k, (north, east) in enumerate([(20, -10), (-15, 25), (5, 5), (-10, -20)], start=1):
        assert add(uow, incident_id, fix_at(5 * k, north, east, radius_m=80)) == "accepted"
    with uow.read() as session:
        incident = incidents.get(session, incident_id=incident_id)
        located = [e for e in outbox.unpublished(session) if e.type == "incident.located"]
    assert incident.radius_m is not None
    assert incident.radius_m < 80
    assert incident.semi_major_m == incident.radius_m
    assert incident.semi_minor_m is not None
    assert 0 < incident.semi_minor_m <= incident.semi_major_m
    assert incident.area_m2 == pytest.approx(
        3.14159 * incident.semi_major_m * incident.semi_minor_m, rel=1e-3
    )
    assert incident.located_at == T0 + timedelta(seconds=20)
    assert incident.location_method == "wifi"
    assert len(located) == 5
    last = located[-1].data["location"]
    assert last["semi_major_m"] == incident.semi_major_m
    assert validate_event("incident.located", located[-1].data) == located[-1].data
    assert verdicts(engine) == ["accepted"] * 5


def test_an_outlier_is_gated_kept_and_does_not_drag_the_estimate(engine: Engine) -> None:
    world = build_world(engine)
    uow, incident_id = open_incident(engine, world, fix_at(0, radius_m=20, method=FixMethod.GNSS))
    add(uow, incident_id, fix_at(10, 5, 0, radius_m=20, method=FixMethod.GNSS))
    with uow.read() as session:
        before = incidents.get(session, incident_id=incident_id)
        lat_before = before.lat
    # 900 m off in 10 s with a 50 m radius: a car could, the filter does not believe it.
    assert add(uow, incident_id, fix_at(20, 900, 0, radius_m=50)) == "gated"
    with uow.read() as session:
        after = incidents.get(session, incident_id=incident_id)
    assert after.lat == lat_before
    assert verdicts(engine) == ["accepted", "accepted", "gated"]


def test_a_fix_no_vehicle_could_reach_is_refused_and_never_stored(engine: Engine) -> None:
    world = build_world(engine)
    uow, incident_id = open_incident(engine, world, fix_at(0, radius_m=20, method=FixMethod.GNSS))
    add(uow, incident_id, fix_at(10, 5, 0, radius_m=20, method=FixMethod.GNSS))
    with pytest.raises(InvalidInput, match="faster than any vehicle"):
        add(uow, incident_id, fix_at(15, 20_000, 0, radius_m=20))
    with pytest.raises(InvalidInput, match="future"):
        add(uow, incident_id, fix_at(3600, 0, 0), received_after_s=-3580)
    with uow.read() as session:
        incident = incidents.get(session, incident_id=incident_id)
    assert incident.lat is not None
    assert abs(incident.lat - CITY_HALL[0]) < 20 * M_LAT
    assert verdicts(engine) == ["accepted", "accepted"]


def test_a_repeated_sos_with_an_impossible_fix_still_joins_and_keeps_the_fix_as_refused(
    engine: Engine,
) -> None:
    world = build_world(engine)
    uow, incident_id = open_incident(engine, world, fix_at(0, radius_m=20, method=FixMethod.GNSS))
    add(uow, incident_id, fix_at(10, 5, 0, radius_m=20, method=FixMethod.GNSS))
    far = fix_at(12, 30_000, 0, radius_m=20)
    outcome = receive_sos_with(
        uow,
        report=SosReport(
            channel=Channel.APP,
            received_at=far.observed_at,
            source="app:test",
            subscriber_id=world.subscriber_id,
            fix=far,
        ),
        ranker=StraightLineRanker(),
        merge_window=WINDOW,
        auto_dispatch=False,
    )
    assert outcome.incident.id == incident_id
    assert outcome.incident.sos_count == 2
    assert verdicts(engine) == ["accepted", "accepted", "refused"]


def test_a_late_fix_refilters_and_the_estimate_does_not_depend_on_arrival_order(
    engine: Engine,
) -> None:
    world = build_world(engine)
    fixes = [fix_at(10 * k, 3 * k, -2 * k, radius_m=40) for k in range(5)]
    results = []
    for order in ([1, 2, 3, 4], [4, 2, 1, 3]):
        uow, incident_id = open_incident(engine, world, fixes[0])
        for k in order:
            add(uow, incident_id, fixes[k])
        with uow.begin() as session:
            incident = incidents.get(session, incident_id=incident_id)
            results.append((incident.lat, incident.lon, incident.semi_major_m))
            incidents.change_status(
                session,
                incident_id=incident_id,
                status=incidents.IncidentStatus.CANCELLED,
                actor="test",
                reason="next order",
                at=T0,
            )
            incidents.change_status(
                session,
                incident_id=incident_id,
                status=incidents.IncidentStatus.CLOSED,
                actor="test",
                reason="next order",
                at=T0,
            )
    assert results[0][0] == pytest.approx(results[1][0], abs=1e-9)
    assert results[0][1] == pytest.approx(results[1][1], abs=1e-9)
    assert results[0][2] == pytest.approx(results[1][2], abs=0.01)


def test_the_location_endpoint_gives_ellipse_track_mix_and_words(
    engine: Engine, database_url: str
) -> None:
    world = build_world(engine)
    with running_app(engine, database_url, auto_dispatch=False) as client:
        body = {"fix": {"lat": CITY_HALL[0], "lon": CITY_HALL[1], "accuracy_m": 50}}
        incident_id = client.post(
            "/api/v1/app/sos", **app_request(world.app_credential, body, "loc-0001")
        ).json()["incident_id"]
        uow = UnitOfWork(make_session_factory(engine))
        with uow.read() as session:
            first_at = incidents.get(session, incident_id=incident_id).located_at
        assert first_at is not None
        base = first_at - T0
        for k in range(1, 4):
            fix = fix_at(base.total_seconds() + 5 * k, 10 * k, 0, radius_m=60)
            add(uow, incident_id, fix)
        board = staff_headers(client, "dispatcher")
        answer = client.get(f"/api/v1/incidents/{incident_id}/location", headers=board)
        assert answer.status_code == 200, answer.text
        found = answer.json()
        estimate = found["estimate"]
        assert len(estimate["ellipse"]) == 49
        assert estimate["ellipse"][0] == estimate["ellipse"][-1]
        assert len(estimate["track"]) == 4
        assert estimate["area_m2"] > 0
        mix = {c["method"]: c["used"] for c in estimate["contributions"]}
        assert mix["wifi"] == 3
        assert sum(mix.values()) == 4
        assert "Wi-Fi" in estimate["description"]["en"]
        assert "전" in estimate["description"]["ko"]
        assert [f["verdict"] for f in found["fixes"]] == ["accepted"] * 4
        officer = staff_headers(client, "officer")
        refused = client.get(f"/api/v1/incidents/{incident_id}/location", headers=officer)
        assert refused.status_code == 403
        ordered = client.post(
            f"/api/v1/incidents/{incident_id}/dispatch",
            json={"unit_id": world.unit_ids["태평로11"]},
            headers=board,
        )
        assert ordered.status_code == 200, ordered.text
        mine = client.get(f"/api/v1/incidents/{incident_id}/location", headers=officer)
        assert mine.status_code == 200
        missing = client.get("/api/v1/incidents/nope/location", headers=board)
        assert missing.status_code == 404


def open_alone(engine: Engine, first: LocationFix) -> tuple[UnitOfWork, str]:
    """An incident of an unknown caller: nothing merges into it, so a test can open several."""
    uow = UnitOfWork(make_session_factory(engine))
    report = SosReport(
        channel=Channel.APP, received_at=first.observed_at, source="app:test", fix=first
    )
    outcome = receive_sos_with(
        uow, report=report, ranker=StraightLineRanker(), merge_window=WINDOW, auto_dispatch=False
    )
    return uow, outcome.incident.id


def add_batch(
    uow: UnitOfWork, incident_id: str, fixes: list[LocationFix], *, keep_refused: bool = False
) -> list[str]:
    with uow.begin() as session:
        incident = incidents.get(session, incident_id=incident_id, for_update=True)
        received_at = max(f.observed_at for f in fixes) + timedelta(seconds=1)
        verdicts = incidents.add_fixes(
            session,
            incident=incident,
            fixes=fixes,
            received_at=received_at,
            keep_refused=keep_refused,
        )
        return [v.outcome.value for v in verdicts]


def where_it_is(uow: UnitOfWork, incident_id: str) -> tuple[float, ...]:
    """The stored estimate, the one the location endpoint reads, and how many events told it."""
    with uow.read() as session:
        incident = incidents.get(session, incident_id=incident_id)
        assert incident.located_at is not None
        read = location.estimate(session, incident_id=incident_id, now=incident.located_at)
        located = [
            e
            for e in outbox.unpublished(session)
            if e.type == "incident.located" and e.incident_id == incident_id
        ]
    assert read is not None
    assert incident.lat is not None
    assert incident.lon is not None
    assert incident.semi_major_m is not None
    assert incident.semi_minor_m is not None
    return (
        incident.lat,
        incident.lon,
        incident.semi_major_m,
        incident.semi_minor_m,
        read.lat,
        read.lon,
        read.semi_major_m,
        float(len(located)),
    )


def walk(count: int) -> list[LocationFix]:
    return [fix_at(10 * k, 3 * k, -2 * k, radius_m=40) for k in range(count)]


def test_fixes_one_by_one_with_a_late_one_and_as_one_batch_give_the_same_estimate(
    engine: Engine,
) -> None:
    fixes = walk(8)
    fixes[6] = fix_at(60, 18, -12, radius_m=15, method=FixMethod.GNSS)
    uow, one_by_one = open_alone(engine, fixes[0])
    for k in (1, 2, 3, 5, 6, 7, 4):  # 4 comes late: filtered again from where it belongs
        assert add(uow, one_by_one, fixes[k]) == "accepted"
    uow, batched = open_alone(engine, fixes[0])
    assert add_batch(uow, batched, [fixes[k] for k in (7, 1, 4, 2, 6, 3, 5)]) == ["accepted"] * 7
    by_one, by_batch = where_it_is(uow, one_by_one), where_it_is(uow, batched)
    assert by_one[:7] == pytest.approx(by_batch[:7], rel=1e-9)
    assert by_one[:3] == pytest.approx(by_one[4:7], abs=0.01)  # read as stored
    assert (by_one[7], by_batch[7]) == (8, 2)  # one event per fix, or the SOS's and the batch's


def test_a_batch_reaching_back_before_the_stored_fixes_refilters_like_one_by_one(
    engine: Engine,
) -> None:
    fixes = walk(9)
    uow, one_by_one = open_alone(engine, fixes[0])
    uow, batched = open_alone(engine, fixes[0])
    for k in (1, 2, 3, 5, 6):
        add(uow, one_by_one, fixes[k])
        add(uow, batched, fixes[k])
    for k in (8, 4, 7):
        add(uow, one_by_one, fixes[k])
    assert add_batch(uow, batched, [fixes[8], fixes[4], fixes[7]]) == ["accepted"] * 3
    assert where_it_is(uow, one_by_one)[:7] == pytest.approx(
        where_it_is(uow, batched)[:7], rel=1e-9
    )


def test_an_incident_without_a_checkpoint_gets_one_from_its_stored_fixes(engine: Engine) -> None:
    fixes = walk(6)
    uow, kept = open_alone(engine, fixes[0])
    uow, lost = open_alone(engine, fixes[0])
    for k in (1, 2, 3, 4):
        add(uow, kept, fixes[k])
        add(uow, lost, fixes[k])
    with uow.begin() as session:  # as for incidents from before the checkpoint existed
        session.execute(location_tracks.delete().where(location_tracks.c.incident_id == lost))
    add(uow, kept, fixes[5])
    add(uow, lost, fixes[5])
    assert where_it_is(uow, kept) == where_it_is(uow, lost)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(location_tracks)).scalar() == 2


def test_an_impossible_fix_fails_the_whole_batch_unless_refused_fixes_are_kept(
    engine: Engine,
) -> None:
    uow, incident_id = open_alone(engine, fix_at(0, radius_m=20, method=FixMethod.GNSS))
    batch = [fix_at(10, 5, 0, radius_m=20), fix_at(15, 20_000, 0, radius_m=20), fix_at(20)]
    with pytest.raises(InvalidInput, match=r"fix 2 of 3 refused: .*faster than any vehicle"):
        add_batch(uow, incident_id, batch)
    assert verdicts(engine) == ["accepted"]  # nothing of the batch was kept
    assert add_batch(uow, incident_id, batch, keep_refused=True) == [
        "accepted",
        "refused",
        "accepted",
    ]
    assert verdicts(engine) == ["accepted", "accepted", "refused", "accepted"]
    with uow.begin() as session:  # a message with no fixes: nothing to do
        incident = incidents.get(session, incident_id=incident_id, for_update=True)
        assert incidents.add_fixes(session, incident=incident, fixes=[], received_at=T0) == []
    assert len(verdicts(engine)) == 4


def test_gated_fixes_stored_earlier_are_accepted_when_a_later_fix_re_acquires(
    engine: Engine,
) -> None:
    uow, incident_id = open_alone(engine, fix_at(0, radius_m=15, method=FixMethod.GNSS))
    add_batch(
        uow, incident_id, [fix_at(10.0 * i, radius_m=15, method=FixMethod.GNSS) for i in (1, 2, 3)]
    )
    away = [fix_at(100 + 10.0 * i, 300, 1500, radius_m=20, method=FixMethod.GNSS) for i in range(3)]
    assert [add(uow, incident_id, f) for f in away] == ["gated", "gated", "accepted"]
    assert verdicts(engine) == ["accepted"] * 7  # the two gated rows were revised
    with uow.read() as session:
        incident = incidents.get(session, incident_id=incident_id)
    assert incident.lat == pytest.approx(away[2].lat, abs=30 * M_LAT)
    # In one batch, the gated fixes are stored as they ended up: accepted.
    uow, batched = open_alone(engine, fix_at(0, radius_m=15, method=FixMethod.GNSS))
    add_batch(
        uow, batched, [fix_at(10.0 * i, radius_m=15, method=FixMethod.GNSS) for i in (1, 2, 3)]
    )
    assert add_batch(uow, batched, away) == ["gated", "gated", "accepted"]
    assert verdicts(engine) == ["accepted"] * 14
    assert where_it_is(uow, batched)[:7] == pytest.approx(where_it_is(uow, incident_id)[:7])
