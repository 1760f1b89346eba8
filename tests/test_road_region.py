"""The road-shaped 95 % region of a car: map matching, reach, fall-backs, and the exports."""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from tests.cartrack import car_fixes

from ansim.cctv.selection import CameraIndex, CoverageView, UncertaintyRegion
from ansim.domain.estimate import Estimate
from ansim.domain.fixes import FixMethod, LocationFix
from ansim.domain.fusion import LocationTrack
from ansim.domain.map_matching import emission, match, transition
from ansim.geo.demo_data import load_road_graph
from ansim.geo.road_region import region_samples, road_region, with_road_region
from ansim.intake.formats import build_pidf_lo
from ansim.intake.formats.eido import EidoIncident, build_eido, eido_validator
from ansim.intake.formats.pidf import parse_pidf_lo
from ansim.intake.formats.pidf_shapes import Polygon

T0 = datetime(2026, 12, 5, 7, 0, tzinfo=UTC)


def _estimate(fixes: list[LocationFix], after_s: float) -> Estimate:
    track = LocationTrack()
    for fix in fixes:
        assert track.add(fix, now=fix.observed_at).accepted
    found = track.estimate(fixes[-1].observed_at + timedelta(seconds=after_s))
    assert found is not None
    return found


def test_matching_prefers_the_road_a_drive_can_follow_and_restarts_when_none_can() -> None:
    # Two roads; the fixes sit a little nearer road 1, but only road 0 continues.
    emissions = [emission([10.0, 8.0], 10.0) for _ in range(3)]
    route = np.array([[100.0, np.inf], [np.inf, 400.0]])
    transitions = [transition(route, 100.0, 40.0) for _ in range(2)]
    found = match(emissions, transitions)
    assert found.path == (0, 0, 0)
    assert found.posterior[0] > 0.99
    assert found.breaks == 0
    cut = [transitions[0], transition(np.full((2, 2), np.inf), 100.0, 40.0)]
    broken = match(emissions, cut)
    assert broken.breaks == 1
    assert broken.first == 2
    assert broken.path == (1,)  # after the break only the newest fix speaks: the nearer road


def test_a_car_gets_a_road_shaped_region_that_holds_where_it_drove_on_to() -> None:
    fixes = car_fixes(T0, count=16)
    seen, later = fixes[:12], fixes[15]  # 15 s after the last fix taken in
    estimate = _estimate(seen, 15.0)
    assert estimate.vehicle_probability >= 0.5
    region = road_region(estimate, load_road_graph())
    assert region is not None
    assert region.contains(later.lat, later.lon)
    assert region.reach_m == pytest.approx(16.7 * 15.0)
    assert len(region.matched) >= 2
    assert 0 < region.area_m2 < math.pi * 500.0**2
    shown = estimate.on_roads(region)
    assert shown.radius_95_m == pytest.approx(math.sqrt(region.area_m2 / math.pi))
    assert shown.area_m2 == region.area_m2
    vertices = sum(len(ring) for polygon in region.polygons for ring in polygon)
    assert vertices <= 800 + 10 * len(region.polygons)
    ring = region.enclosing_ring
    assert ring[0] == ring[-1]
    assert all(region.contains(lat, lon) for lat, lon in region_samples(region)[:50])


def test_a_walker_keeps_the_ellipse() -> None:
    walk = car_fixes(T0, speed_mps=1.2, every_s=10, count=12)
    walk = [
        LocationFix(f.lat, f.lon, 30.0, FixMethod.WIFI, f.observed_at, source="walk") for f in walk
    ]
    estimate = _estimate(walk, 5.0)
    assert estimate.vehicle_probability < 0.5
    assert with_road_region(estimate, load_road_graph()) == estimate


def test_fixes_off_the_mapped_roads_and_a_long_silence_keep_the_ellipse() -> None:
    # The same drive moved 8 km south-east, past the edge of the bundled central-Seoul graph.
    away = [
        LocationFix(
            f.lat - 0.07,
            f.lon + 0.09,
            f.radius_m,
            f.method,
            f.observed_at,
            "car",
            None,
            None,
            f.speed_mps,
            f.heading_deg,
        )
        for f in car_fixes(T0)
    ]
    assert road_region(_estimate(away, 5.0), load_road_graph()) is None
    assert road_region(_estimate(car_fixes(T0), 200.0), load_road_graph()) is None
    # A "vehicle" barely moving is no car to keep on roads (someone indoors with scattered fixes).
    slow = dataclasses.replace(_estimate(car_fixes(T0), 5.0), speed_mps=2.0)
    assert slow.vehicle_probability >= 0.5
    assert road_region(slow, load_road_graph()) is None


def test_pidf_lo_and_eido_send_the_region_as_a_polygon() -> None:
    estimate = _estimate(car_fixes(T0), 10.0)
    region = road_region(estimate, load_road_graph())
    assert region is not None
    ring = tuple((lat, lon) for lon, lat in region.enclosing_ring)
    document = build_pidf_lo(
        entity="tel:+821012345678",
        lat=estimate.lat,
        lon=estimate.lon,
        timestamp=T0,
        method="GPS",
        polygon=ring,
    )
    (location,) = parse_pidf_lo(document).locations
    assert isinstance(location.shape, Polygon)
    assert location.shape.exterior == ring
    eido = build_eido(
        incident=EidoIncident(
            incident_id="inc-1",
            created_at=T0,
            updated_at=T0,
            status="dispatched",
            priority_code=1,
            incident_type_text="silent SOS",
            agency_name="112",
            agency_id="urn:ansim:agency:112",
            lat=estimate.lat,
            lon=estimate.lon,
            radius_m=region.radius_m,
            region_ring=ring,
        )
    )
    assert list(eido_validator().iter_errors(eido)) == []
    assert "gml:Polygon" in eido["locationComponent"][0]["locationByValue"]


def test_cctv_selection_weighs_the_road_region_not_the_ellipse() -> None:
    estimate = _estimate(car_fixes(T0), 10.0)
    region = road_region(estimate, load_road_graph())
    assert region is not None
    samples = region_samples(region)
    on_road = samples[len(samples) // 2]
    # Inside the ellipse, yet off every road of the region (the farthest ellipse point from it).
    off_road = max(
        estimate.outline(96),
        key=lambda p: min(abs(p[0] - s[0]) + abs(p[1] - s[1]) for s in samples),
    )
    off_road = (
        estimate.lat + 0.8 * (off_road[0] - estimate.lat),
        estimate.lon + 0.8 * (off_road[1] - estimate.lon),
    )
    assert not region.contains(*off_road)
    index = CameraIndex(
        [
            CoverageView("road", on_road[0], on_road[1], 30.0, None, 360.0),
            CoverageView("yard", off_road[0], off_road[1], 10.0, None, 360.0),
        ]
    )
    ellipse = UncertaintyRegion(
        estimate.lat,
        estimate.lon,
        estimate.semi_major_m,
        estimate.semi_minor_m,
        estimate.orientation_deg,
    )
    by_ellipse = {c.camera_id for c in index.select(ellipse)}
    by_roads = index.select(dataclasses.replace(ellipse, samples=samples))
    assert "yard" in by_ellipse
    assert [c.camera_id for c in by_roads] == ["road"]
    assert by_roads[0].share > 0
