"""PTZ aiming geometry and the ONVIF adapter against a real local SOAP endpoint."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from tests.live import free_port
from tests.onvif_camera import FakePtzCamera, running_camera

from ansim.cctv.aiming import aim_at
from ansim.cctv.cameras import Camera
from ansim.cctv.onvif import CameraUnreachable, OnvifEndpoint, absolute_move, goto_preset
from ansim.geo.geodesy import LocalFrame

POLE = (37.5665, 126.9780)
FRAME = LocalFrame(*POLE)


def dome(**kw: object) -> Camera:
    base: dict[str, object] = {
        "id": "dome", "site_key": "k", "source": "manual", "gu": "중구", "address": "시청 앞", "lat": POLE[0],
        "lon": POLE[1], "purpose": "생활방범", "camera_count": 1, "updated_at": datetime(2026, 1, 1, tzinfo=UTC),
        "ptz": True, "fov_deg": 60.0, "mount_height_m": 6.0,
    }  # fmt: skip
    return Camera(**(base | kw))  # type: ignore[arg-type]


def test_pan_follows_the_bearing_from_the_pan_zero() -> None:
    lat, lon = FRAME.to_latlon(60.0, 0.0)  # due east
    target = aim_at(dome(), lat=lat, lon=lon, radius_m=10)
    assert target.bearing_deg == pytest.approx(90, abs=0.1)
    assert target.pan == pytest.approx(0.5, abs=0.001)
    turned = aim_at(dome(pan_zero_deg=120.0), lat=lat, lon=lon, radius_m=10)
    assert turned.pan == pytest.approx(-30 / 180, abs=0.001)
    west_lat, west_lon = FRAME.to_latlon(-60.0, 0.0)
    west = aim_at(dome(), lat=west_lat, lon=west_lon, radius_m=10)
    assert west.pan == pytest.approx(-0.5, abs=0.001)


def test_tilt_looks_down_from_the_mount_height() -> None:
    lat, lon = FRAME.to_latlon(0.0, 6.0)  # 6 m away from a 6 m pole: 45° down
    target = aim_at(dome(), lat=lat, lon=lon, radius_m=5)
    assert target.tilt_deg == pytest.approx(-45, abs=0.2)
    assert target.tilt == pytest.approx(-0.5, abs=0.003)


def test_zoom_frames_the_uncertainty_circle() -> None:
    lat, lon = FRAME.to_latlon(0.0, 80.0)
    sharp = aim_at(dome(), lat=lat, lon=lon, radius_m=5)
    vague = aim_at(dome(), lat=lat, lon=lon, radius_m=40)
    huge = aim_at(dome(), lat=lat, lon=lon, radius_m=500)
    assert 0 <= huge.zoom < vague.zoom < sharp.zoom <= 1
    assert huge.zoom == 0  # wider than the widest view: stay wide
    assert vague.fov_deg == pytest.approx(2 * 26.565, abs=0.1)  # atan(40/80) each side


def test_absolute_move_reaches_the_camera_with_credentials_and_values() -> None:
    with running_camera() as camera:
        endpoint = OnvifEndpoint(camera.url, "operator", "cam-secret", "Profile_1")
        absolute_move(endpoint, pan=0.25, tilt=-0.125, zoom=0.5)
        goto_preset(endpoint, preset_token="Preset_Gate")
    assert camera.moves == [{"pan": 0.25, "tilt": -0.125, "zoom": 0.5}, {"preset": "Preset_Gate"}]
    assert camera.refusals == []


@pytest.mark.parametrize(
    ("endpoint_changes", "reason"),
    [
        ({"password": "wrong"}, "wrong password digest"),
        ({"username": None}, "UsernameToken missing"),
        ({"profile_token": "Profile_9"}, "unknown profile"),
    ],
)
def test_refusals_come_back_as_unreachable_with_the_fault(
    endpoint_changes: dict[str, object], reason: str
) -> None:
    with running_camera(FakePtzCamera()) as camera:
        fields = {"url": camera.url, "username": "operator", "password": "cam-secret"}
        fields |= {"profile_token": "Profile_1"} | endpoint_changes
        with pytest.raises(CameraUnreachable, match=reason):
            absolute_move(OnvifEndpoint(**fields), pan=0, tilt=0, zoom=0)  # type: ignore[arg-type]
    assert camera.moves == []


def test_unknown_preset_is_a_fault() -> None:
    with running_camera() as camera:
        endpoint = OnvifEndpoint(camera.url, "operator", "cam-secret", "Profile_1")
        with pytest.raises(CameraUnreachable, match="unknown preset"):
            goto_preset(endpoint, preset_token="Nope")


def test_a_closed_port_is_unreachable() -> None:
    endpoint = OnvifEndpoint(f"http://127.0.0.1:{free_port()}/onvif", "a", "b", "Profile_1")
    with pytest.raises(CameraUnreachable, match="connection refused"):
        absolute_move(endpoint, pan=0, tilt=0, zoom=0)
