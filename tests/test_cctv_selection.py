"""Camera selection: probability share against closed forms, direction and PTZ, ranking, benchmark."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from ansim.cctv.cameras import Camera
from ansim.cctv.selection import CameraIndex, CoverageView, UncertaintyRegion
from ansim.domain.errors import InvalidInput
from ansim.geo.geodesy import LocalFrame
from ansim_bench import cctv_bench as bench

CENTRE = (37.5665, 126.9780)
FRAME = LocalFrame(*CENTRE)
K95 = math.sqrt(-2 * math.log(0.05))


def at(east: float, north: float) -> tuple[float, float]:
    return FRAME.to_latlon(east, north)


def view(name: str, east: float, north: float, range_m: float = 50.0, **kw: float) -> CoverageView:
    lat, lon = at(east, north)
    bearing = kw.get("bearing")
    return CoverageView(name, lat, lon, range_m, bearing, kw.get("fov", 360.0))


def disc_mass(range_m: float, radius_95: float) -> float:
    """Share of the 95 % circle's mass inside a disc of `range_m` at the centre (closed form)."""
    sigma = radius_95 / K95
    inside = min(range_m, radius_95)
    return (1 - math.exp(-(inside**2) / (2 * sigma**2))) / 0.95


@pytest.mark.parametrize("radius", [5.0, 30.0, 60.0, 200.0, 1500.0])
def test_share_of_a_camera_on_the_estimate_matches_the_closed_form(radius: float) -> None:
    index = CameraIndex([view("c", 0, 0)])
    (choice,) = index.select(UncertaintyRegion.circle(*CENTRE, radius))
    assert choice.share == pytest.approx(min(disc_mass(50, radius), 1.0), abs=0.02)


def test_cameras_out_of_reach_are_not_selected() -> None:
    index = CameraIndex([view("near", 80, 0), view("far", 400, 0)])
    chosen = index.select(UncertaintyRegion.circle(*CENTRE, 100))
    assert [c.camera_id for c in chosen] == ["near"]
    assert chosen[0].distance_m == pytest.approx(80, abs=0.5)
    assert chosen[0].bearing_to_target_deg == pytest.approx(270, abs=0.5)


def test_a_fixed_camera_looking_away_sees_nothing_but_a_ptz_one_turns() -> None:
    # Both stand 30 m south of the person; the fixed one looks south, away from them.
    away = view("away", 0, -30, bearing=180.0, fov=60.0)
    toward = view("toward", 0, -30, bearing=0.0, fov=60.0)
    ptz = view("ptz", 0, -30, range_m=100.0)
    index = CameraIndex([away, toward, ptz])
    chosen = index.select(UncertaintyRegion.circle(*CENTRE, 10))
    assert {c.camera_id for c in chosen} == {"toward", "ptz"}
    assert all(c.share == pytest.approx(1.0) for c in chosen)


def test_ranking_prefers_more_of_the_likely_area_then_distance() -> None:
    index = CameraIndex(
        [view("edge", 0, 250), view("centre", 0, 0), view("mid", 0, 100), view("twin", 0, -100)]
    )
    chosen = index.select(UncertaintyRegion.circle(*CENTRE, 300))
    assert next(c.camera_id for c in chosen) == "centre"
    assert {c.camera_id for c in chosen[1:3]} == {"mid", "twin"}
    assert chosen[-1].camera_id == "edge"
    assert chosen[0].share > chosen[1].share > chosen[-1].share > 0


def test_ellipse_orientation_decides_which_camera_sees_the_person() -> None:
    # A thin ellipse pointing north-south: the camera 150 m north covers it, the one east does not.
    index = CameraIndex([view("north", 0, 150), view("east", 150, 0)])
    region = UncertaintyRegion(*CENTRE, semi_major_m=200, semi_minor_m=20, orientation_deg=0)
    assert [c.camera_id for c in index.select(region)] == ["north"]
    turned = UncertaintyRegion(*CENTRE, semi_major_m=200, semi_minor_m=20, orientation_deg=90)
    assert [c.camera_id for c in index.select(turned)] == ["east"]


def test_limit_and_empty_index() -> None:
    index = CameraIndex([view(str(i), i * 5.0, 0) for i in range(30)])
    assert len(index.select(UncertaintyRegion.circle(*CENTRE, 100), limit=5)) == 5
    assert CameraIndex([]).select(UncertaintyRegion.circle(*CENTRE, 100)) == []


def test_impossible_ellipse_is_refused() -> None:
    with pytest.raises(InvalidInput):
        UncertaintyRegion(*CENTRE, semi_major_m=10, semi_minor_m=20)


def test_camera_defaults_follow_what_is_known() -> None:
    def camera(**kw: object) -> Camera:
        base: dict[str, object] = {
            "id": "x", "site_key": "k", "source": "s", "gu": "중구", "address": "a", "lat": CENTRE[0], "lon": CENTRE[1],
            "purpose": "생활방범", "camera_count": 1, "updated_at": datetime(2026, 1, 1, tzinfo=UTC),
        }  # fmt: skip
        return Camera(**(base | kw))  # type: ignore[arg-type]

    assert camera().sees_all_around  # direction unknown: cannot be excluded
    assert camera(bearing_deg=90.0).effective_fov_deg == 60.0
    assert camera(bearing_deg=90.0, ptz=True).sees_all_around
    assert camera(pixels=410_000).effective_range_m == 30.0
    assert camera(ptz=True).effective_range_m == 100.0
    assert CoverageView.of(camera(bearing_deg=90.0)).bearing_deg == 90.0


def test_benchmark_runs_over_all_bundled_sites() -> None:
    sites, _build_ms, rows = bench.run(updates=30)
    assert sites > 37_000
    assert [r.label for r in rows] == [s[0] for s in bench.SCENARIOS]
    assert all(r.mean_selected > 0 for r in rows)
    assert "| GPS ±10 m | 30 |" in bench.format_table(sites, _build_ms, rows)
