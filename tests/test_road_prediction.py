"""A car's position driven on along the matched roads between fixes (geo.road_prediction), and
the mixture-aware 95 % ellipse (domain.mixture_region)."""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy.engine import Engine
from tests.cartrack import car_fixes
from tests.factories import build_world
from tests.roadkit import at, build
from tests.test_location_service import fix_at, open_incident

from ansim.domain import mixture_region
from ansim.domain.estimate import Estimate, TrackPoint
from ansim.domain.fusion import LocationTrack
from ansim.geo.geodesy import haversine_m
from ansim.geo.road_edges import road_edges
from ansim.geo.road_prediction import MatchedDrive, predicted
from ansim.geo.road_region import with_road_region
from ansim.geo.roads import RoadGraph
from ansim.services import incidents, location

T0 = datetime(2026, 12, 5, 7, 0, tzinfo=UTC)
RESIDENTIAL = {"highway": "residential"}


def _drive(graph: RoadGraph, points: list[tuple[float, float]], every_s: float) -> MatchedDrive:
    """A matched drive through road points given in metres (east, north) of the test frame."""
    roads = road_edges(graph)
    path = []
    for east, north in points:
        lat, lon = at(east, north)
        edge = int(roads.canonical[graph.snap(lat, lon).edge])
        path.append(roads.project(edge, *graph.frame.to_metres(lat, lon)))
    driven = tuple(math.dist((a.x, a.y), (b.x, b.y)) for a, b in itertools.pairwise(path))
    times = tuple(T0 + timedelta(seconds=every_s * k) for k in range(len(path)))
    return MatchedDrive(tuple(path), times, driven, ((path[-1], 1.0),))


def _metres_from(
    graph: RoadGraph, xy: tuple[float, float] | None, east: float, north: float
) -> float:
    assert xy is not None
    return haversine_m(*graph.frame.to_latlon(*xy), *at(east, north))


def _car(track: list[tuple[float, float]], *, age_s: float, every_s: float = 5.0) -> Estimate:
    """A car-like estimate whose filtered track ran through `track` (metres of the test frame)."""
    points = tuple(
        TrackPoint(T0 + timedelta(seconds=every_s * k), *at(east, north), 20.0)
        for k, (east, north) in enumerate(track)
    )
    last = points[-1]
    (east, north), (e0, n0) = track[-1], track[-2]
    heading = math.degrees(math.atan2(east - e0, north - n0)) % 360.0
    return Estimate(
        lat=last.lat,
        lon=last.lon,
        semi_major_m=60.0,
        semi_minor_m=40.0,
        orientation_deg=heading,
        radius_95_m=60.0,
        area_m2=math.pi * 60.0 * 40.0,
        at=last.at + timedelta(seconds=age_s),
        last_fix_at=last.at,
        age_s=age_s,
        speed_mps=10.0,
        heading_deg=heading,
        vehicle_probability=0.9,
        track=points,
        contributions=(),
    )


def test_on_a_straight_road_the_car_drives_on_at_its_matched_speed_either_way(
    tmp_path: Path,
) -> None:
    graph = build(tmp_path, {1: (0.0, 0.0), 2: (1000.0, 0.0)}, [([1, 2], RESIDENTIAL)])
    roads = road_edges(graph)
    east = _drive(graph, [(100.0, 0.0), (150.0, 0.0), (200.0, 0.0)], every_s=5.0)
    assert east.speed_mps() == pytest.approx(10.0, abs=0.1)
    ahead = predicted(roads, east, heading_deg=90.0, age_s=10.0)
    assert _metres_from(graph, ahead, 300.0, 0.0) < 2.0
    west = _drive(graph, [(200.0, 0.0), (150.0, 0.0), (100.0, 0.0)], every_s=5.0)
    # The matched path says west, whatever a stale heading says.
    assert _metres_from(graph, predicted(roads, west, heading_deg=90.0, age_s=5.0), 50, 0) < 2.0


def test_at_a_junction_the_point_minimises_the_expected_error_over_the_turns(
    tmp_path: Path,
) -> None:
    nodes = {1: (0.0, 0.0), 2: (200.0, 0.0), 3: (600.0, 0.0), 4: (200.0, 400.0), 5: (200.0, -400.0)}
    crossing = build(tmp_path, nodes, [([1, 2, 3], RESIDENTIAL), ([4, 2, 5], RESIDENTIAL)])
    drive = _drive(crossing, [(100.0, 0.0), (150.0, 0.0)], every_s=5.0)
    ahead = predicted(road_edges(crossing), drive, heading_deg=90.0, age_s=15.0)  # 50 m + 100 m
    turns = ((300.0, 0.0), (200.0, 100.0), (200.0, -100.0))
    odds = np.exp([0.0, -1.0, -1.0])  # STRAIGHT_PREFERENCE 1: a right angle costs e^-1
    odds /= odds.sum()

    def expected(graph: RoadGraph, p: tuple[float, float] | None) -> float:
        assert p is not None
        ends = [graph.frame.to_metres(*at(e, n)) for e, n in turns]
        return float(sum(w * math.dist(p, e) for w, e in zip(odds, ends, strict=True)))

    # Straight on holds more than half the weight: the median is there.
    assert _metres_from(crossing, ahead, 300.0, 0.0) < 2.0
    candidates = [crossing.frame.to_metres(*at(e, n)) for e, n in (*turns, (200.0, 0.0))]
    assert expected(crossing, ahead) <= min(expected(crossing, c) for c in candidates) + 0.5
    # A T: left or right, alike. The point waits at the junction instead of guessing a turn.
    tee_nodes = {1: (0.0, 0.0), 2: (200.0, 0.0), 4: (200.0, 400.0), 5: (200.0, -400.0)}
    tee = build(tmp_path, tee_nodes, [([1, 2], RESIDENTIAL), ([4, 2, 5], RESIDENTIAL)])
    drive = _drive(tee, [(100.0, 0.0), (150.0, 0.0)], every_s=5.0)
    ahead = predicted(road_edges(tee), drive, heading_deg=90.0, age_s=15.0)
    assert _metres_from(tee, ahead, 200.0, 0.0) < 2.0


def test_a_dead_end_stops_the_car(tmp_path: Path) -> None:
    graph = build(tmp_path, {1: (0.0, 0.0), 2: (300.0, 0.0)}, [([1, 2], RESIDENTIAL)])
    drive = _drive(graph, [(100.0, 0.0), (200.0, 0.0)], every_s=10.0)
    ahead = predicted(road_edges(graph), drive, heading_deg=90.0, age_s=30.0)
    assert _metres_from(graph, ahead, 300.0, 0.0) < 2.0


def test_the_board_shows_the_car_driven_on_and_the_region_stays_the_reachable_roads(
    tmp_path: Path,
) -> None:
    graph = build(tmp_path, {1: (0.0, 0.0), 2: (2000.0, 0.0)}, [([1, 2], RESIDENTIAL)])
    car = _car([(100.0, 5.0), (150.0, -5.0), (200.0, 5.0), (250.0, 0.0)], age_s=20.0)
    shown = with_road_region(car, graph)
    assert shown.region is not None
    assert shown.region.reach_m == pytest.approx(16.7 * 20.0)
    # 200 m on at 10 m/s, pulled back a little toward the filter's own position (FREE_SHARE).
    assert haversine_m(shown.lat, shown.lon, *at(450.0, 0.0)) < 5.0
    assert shown.region.contains(shown.lat, shown.lon)
    assert with_road_region(car, graph, predict=False).lat == car.lat
    # Unheard of for two minutes: past the region's reach cap the ellipse stays, and the point
    # is still driven on along the road (not left where the filter's forgetting stops it).
    silent = with_road_region(_car([(100.0, 0.0), (150.0, 0.0), (200.0, 0.0)], age_s=120.0), graph)
    assert silent.region is None
    assert haversine_m(silent.lat, silent.lon, *at(1400.0, 0.0)) < 300.0


def test_fixes_that_contradict_the_roads_keep_free_movement(tmp_path: Path) -> None:
    # Two parallel roads 500 m apart, never joined: no drive explains the jump between them.
    nodes = {1: (0.0, 0.0), 2: (2000.0, 0.0), 3: (0.0, 500.0), 4: (2000.0, 500.0)}
    graph = build(tmp_path, nodes, [([1, 2], RESIDENTIAL), ([3, 4], RESIDENTIAL)])
    jump = _car([(100.0, 0.0), (150.0, 0.0), (200.0, 0.0), (250.0, 500.0)], age_s=10.0)
    shown = with_road_region(jump, graph)
    assert (shown.lat, shown.lon) == (jump.lat, jump.lon)  # the chain broke: nothing to drive on
    # The newest position far from every road: no region, no move, the estimate as it was.
    off = _car([(100.0, 0.0), (150.0, 0.0), (200.0, 0.0), (250.0, 250.0)], age_s=10.0)
    assert with_road_region(off, graph) == off


def test_the_ellipse_grows_to_hold_95_percent_of_a_mixture_of_models() -> None:
    probs = np.array([0.9, 0.1])
    means = np.zeros((2, 2))
    covs = np.array([np.eye(2) * 50.0**2, np.eye(2) * 500.0**2])
    mean = probs @ means
    cov = np.einsum("m,mij->ij", probs, covs)
    scale = mixture_region.mixture_scale(probs, means, covs, mean, cov)
    assert scale > 1.1
    # Check by fresh draws: the scaled ellipse holds ~95 % of the mixture.
    rng = np.random.default_rng(7)
    n = 200_000
    wide = rng.random(n) < probs[1]
    draws = rng.standard_normal((n, 2)) * np.where(wide, 500.0, 50.0)[:, None]
    d2 = np.einsum("ni,ij,nj->n", draws, np.linalg.inv(cov), draws)
    held = float(np.mean(d2 <= mixture_region.CHI2_95 * scale**2))
    assert held == pytest.approx(0.95, abs=0.01)
    assert float(np.mean(d2 <= mixture_region.CHI2_95)) < 0.94  # the moments' ellipse did not
    # One model, or a mixture its moments already cover: the ellipse as it was.
    assert mixture_region.mixture_scale(probs[:1], means[:1], covs[:1], mean, covs[0]) == 1.0
    alike = np.array([np.eye(2) * 50.0**2] * 2)
    assert mixture_region.mixture_scale(probs, means, alike, mean, alike[0]) == pytest.approx(1.0)


def test_the_location_the_board_reads_is_the_car_driven_on_along_its_road(engine: Engine) -> None:
    world = build_world(engine)
    drive = car_fixes(fix_at(0).observed_at, count=16)  # 12 m/s, a fix every 5 s
    uow, car = open_incident(engine, world, drive[0])
    with uow.begin() as session:
        incident = incidents.get(session, incident_id=car, for_update=True)
        incidents.add_fixes(
            session, incident=incident, fixes=drive[1:12], received_at=drive[11].observed_at
        )
    now = drive[14].observed_at  # 15 s after the last fix taken in
    with uow.read() as session:
        shown = location.estimate(session, incident_id=car, now=now)
        free = LocationTrack.from_fixes(drive[:12], now=now).estimate(now)
    assert shown is not None
    assert free is not None
    assert shown.region is not None  # the 95 % region is still the reachable roads
    truth = (drive[14].lat, drive[14].lon)
    # The same code path the bench scores, nearer the car than the filter's straight line.
    assert haversine_m(shown.lat, shown.lon, *truth) < haversine_m(free.lat, free.lon, *truth)
    assert haversine_m(shown.lat, shown.lon, *truth) < 40.0
    assert shown.region.contains(shown.lat, shown.lon)
