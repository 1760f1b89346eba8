"""Pointing a PTZ camera at the estimate: pan from the bearing, tilt from height and distance, zoom to frame."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ansim.cctv.cameras import Camera
from ansim.geo.geodesy import haversine_m, initial_bearing_deg

# Frame at least a person's surroundings, however sharp the fix.
MIN_FRAME_RADIUS_M = 5.0
TELE_FOV_RATIO = 30.0  # a typical 30× optical zoom dome


@dataclass(frozen=True, slots=True)
class PtzTarget:
    """ONVIF generic-space position (pan, tilt in -1..1, zoom in 0..1) and the geometry behind it."""

    pan: float
    tilt: float
    zoom: float
    bearing_deg: float
    distance_m: float
    tilt_deg: float
    fov_deg: float


def aim_at(camera: Camera, *, lat: float, lon: float, radius_m: float) -> PtzTarget:
    """The position that centres (lat, lon) and frames its uncertainty circle.

    Generic space: pan -1..1 is -180..180° from the camera's pan zero (`pan_zero_deg`, a bearing),
    tilt -1..1 is -90..90° with negative looking down, zoom 0 is widest and 1 is full tele.
    """
    distance = haversine_m(camera.lat, camera.lon, lat, lon)
    bearing = initial_bearing_deg(camera.lat, camera.lon, lat, lon) if distance > 0.5 else 0.0
    pan_deg = (bearing - camera.pan_zero_deg + 180.0) % 360.0 - 180.0
    tilt_deg = -math.degrees(math.atan2(camera.mount_height_m, max(distance, 0.1)))
    wide = min(camera.fov_deg or 60.0, 179.0)
    tele = wide / TELE_FOV_RATIO
    frame = max(radius_m, MIN_FRAME_RADIUS_M)
    wanted = math.degrees(2.0 * math.atan2(frame, max(distance, 0.1)))
    # Linear in field of view: real lenses are not, but the operator fine-tunes on the live view.
    zoom = (wide - min(max(wanted, tele), wide)) / (wide - tele)
    return PtzTarget(
        pan=round(pan_deg / 180.0, 4),
        tilt=round(tilt_deg / 90.0, 4),
        zoom=round(min(max(zoom, 0.0), 1.0), 4),
        bearing_deg=bearing,
        distance_m=distance,
        tilt_deg=tilt_deg,
        fov_deg=max(min(wanted, wide), tele),
    )
