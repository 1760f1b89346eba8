"""Cameras of the registry: where they stand, what they see, and how to reach the PTZ ones."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from ansim.domain.errors import InvalidInput

# Without a survey we assume what a typical public pole camera resolves a person at.
DEFAULT_RANGE_M = 50.0
LOW_RESOLUTION_RANGE_M = 30.0  # SD cameras (under 1 MP, e.g. 41만 화소)
PTZ_RANGE_M = 100.0  # optical zoom reaches further once the camera is turned
DEFAULT_FOV_DEG = 60.0
MAX_RANGE_M = 500.0

_COMPASS_KO = {
    "북": 0.0,
    "북동": 45.0,
    "동북": 45.0,
    "동": 90.0,
    "남동": 135.0,
    "동남": 135.0,
    "남": 180.0,
    "남서": 225.0,
    "서남": 225.0,
    "서": 270.0,
    "북서": 315.0,
    "서북": 315.0,
}
_COMPASS_EN = {
    "N": 0.0, "NE": 45.0, "E": 90.0, "SE": 135.0, "S": 180.0, "SW": 225.0, "W": 270.0, "NW": 315.0,
    "NORTH": 0.0, "EAST": 90.0, "SOUTH": 180.0, "WEST": 270.0,
}  # fmt: skip
_OMNI = re.compile(r"360\s*(도|°)|전\s*방(면|향)|全方")
_DEGREES = re.compile(r"^(\d{1,3}(?:\.\d+)?)\s*(도|°|deg)?$")
_KO_SUFFIX = re.compile(r"(쪽|측|향|방향|방면|편)$")


@dataclass(frozen=True, slots=True)
class ViewingDirection:
    """What 촬영방면정보 says: a bearing, all around, or nothing we can use."""

    bearing_deg: float | None
    omnidirectional: bool

    @property
    def known(self) -> bool:
        return self.bearing_deg is not None or self.omnidirectional


UNKNOWN_DIRECTION = ViewingDirection(None, omnidirectional=False)


def parse_viewing_direction(text: str) -> ViewingDirection:
    """Reads 촬영방면정보 ('360도전방면', '북측', '남동쪽', '45도', 'NE'); place names stay unknown."""
    value = text.strip()
    if not value:
        return UNKNOWN_DIRECTION
    if _OMNI.search(value):
        return ViewingDirection(None, omnidirectional=True)
    degrees = _DEGREES.match(value)
    if degrees:
        bearing = float(degrees.group(1))
        if bearing > 360:
            return UNKNOWN_DIRECTION
        return ViewingDirection(bearing % 360.0, omnidirectional=False)
    if value.upper() in _COMPASS_EN:
        return ViewingDirection(_COMPASS_EN[value.upper()], omnidirectional=False)
    word = _KO_SUFFIX.sub("", value.replace(" ", ""))
    if word in _COMPASS_KO:
        return ViewingDirection(_COMPASS_KO[word], omnidirectional=False)
    # '역삼역방면' names a place, not a direction: it needs the map, so it stays unknown.
    return UNKNOWN_DIRECTION


@dataclass
class Camera:
    """One registry entry: a pole or spot with `camera_count` cameras, optionally a PTZ we can steer."""

    id: str
    site_key: str
    source: str
    gu: str
    address: str
    lat: float
    lon: float
    purpose: str
    camera_count: int
    updated_at: datetime
    pixels: int | None = None
    direction_text: str = ""
    bearing_deg: float | None = None
    omnidirectional: bool = False
    retention_days: int | None = None
    manager: str = ""
    ptz: bool = False
    onvif_url: str | None = None
    onvif_username: str | None = None
    onvif_password: str | None = None
    onvif_profile: str | None = None
    onvif_preset: str | None = None
    stream_url: str | None = None
    fov_deg: float | None = None
    range_m: float | None = None
    pan_zero_deg: float = 0.0
    mount_height_m: float = 4.0

    @property
    def label(self) -> str:
        """What an operator calls it: gu and address, short."""
        return f"{self.gu} {self.address}".strip()[:120]

    @property
    def effective_range_m(self) -> float:
        if self.range_m is not None:
            return self.range_m
        if self.ptz:
            return PTZ_RANGE_M
        if self.pixels is not None and self.pixels < 1_000_000:
            return LOW_RESOLUTION_RANGE_M
        return DEFAULT_RANGE_M

    @property
    def sees_all_around(self) -> bool:
        """True when coverage is a full circle: PTZ turns, 360° cameras, or direction unknown."""
        return self.ptz or self.omnidirectional or self.bearing_deg is None

    @property
    def effective_fov_deg(self) -> float:
        if self.sees_all_around:
            return 360.0
        return self.fov_deg if self.fov_deg is not None else DEFAULT_FOV_DEG

    @property
    def steerable(self) -> bool:
        return self.ptz and bool(self.onvif_url)


def check_camera_settings(
    *,
    fov_deg: float | None,
    range_m: float | None,
    pan_zero_deg: float,
    mount_height_m: float,
    onvif_url: str | None,
    stream_url: str | None,
) -> None:
    """Raises InvalidInput for settings no camera can have."""
    if fov_deg is not None and not 1.0 <= fov_deg <= 360.0:
        raise InvalidInput(f"field of view must be 1-360°, got {fov_deg}")
    if range_m is not None and not 1.0 <= range_m <= MAX_RANGE_M:
        raise InvalidInput(f"range must be 1-{MAX_RANGE_M:.0f} m, got {range_m}")
    if not 0.0 <= pan_zero_deg < 360.0:
        raise InvalidInput(f"pan zero bearing must be 0-360°, got {pan_zero_deg}")
    if not 0.0 <= mount_height_m <= 100.0:
        raise InvalidInput(f"mount height must be 0-100 m, got {mount_height_m}")
    if onvif_url and not onvif_url.startswith(("http://", "https://")):
        raise InvalidInput("the ONVIF service URL must be http(s)://")
    if stream_url and not stream_url.startswith(("rtsp://", "rtsps://", "http://", "https://")):
        raise InvalidInput("the stream URL must be rtsp(s):// or http(s)://")
