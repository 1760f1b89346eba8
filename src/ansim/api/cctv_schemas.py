"""Request and response bodies of the CCTV control center's API, and the views of an incident
and a camera they carry."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ansim.cctv.cameras import Camera
from ansim.cctv.service import SelectedCamera
from ansim.domain.incidents import Incident


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OperatorOut(_Out):
    username: str
    display_name: str
    role: str
    gu: str | None


class CctvIncidentOut(_Out):
    id: str
    status: str
    priority: int
    channel: str
    received_at: datetime
    lat: float
    lon: float
    radius_m: float
    location_method: str | None
    located_at: datetime | None
    # The console grows the figure to now: the region's area and its growth rate (m/s).
    area_m2: float | None = None
    growth_mps: float | None = None
    drill: bool


class CameraOut(_Out):
    id: str
    label: str
    gu: str
    address: str
    lat: float
    lon: float
    purpose: str
    camera_count: int
    ptz: bool
    steerable: bool
    bearing_deg: float | None
    fov_deg: float
    range_m: float
    has_stream: bool
    share: float | None = None
    distance_m: float | None = None
    bearing_to_target_deg: float | None = None


class MarkOut(_Out):
    kind: str
    at: datetime
    actor: str
    data: dict[str, Any]


class IncidentCamerasOut(_Out):
    incident: CctvIncidentOut
    cameras: list[CameraOut]
    marks: list[MarkOut]


class LiveOut(_Out):
    camera_id: str
    stream_url: str | None
    status: str


class AimIn(BaseModel):
    preset: bool = False


class AimOut(_Out):
    camera_id: str
    status: str
    message: str
    pan: float
    tilt: float
    zoom: float
    bearing_deg: float
    distance_m: float


class SightingIn(BaseModel):
    camera_id: str
    note: str = Field(default="", max_length=500)


class ClipIn(BaseModel):
    camera_id: str
    note: str = Field(default="", max_length=500)
    start: datetime | None = None
    end: datetime | None = None


class AreaIn(BaseModel):
    gu: str = Field(min_length=1, max_length=20)


# A number of metres or degrees is a JSON number: `false` is not a height (strict, no bool → 0.0).
Measure = Annotated[float, Field(strict=True, allow_inf_nan=False)]


class CameraSettingsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ptz: bool | None = None
    onvif_url: str | None = None
    onvif_username: str | None = None
    onvif_password: str | None = None
    onvif_profile: str | None = None
    onvif_preset: str | None = None
    stream_url: str | None = None
    fov_deg: Measure | None = None
    range_m: Measure | None = None
    pan_zero_deg: Measure | None = None
    mount_height_m: Measure | None = None

    @model_validator(mode="after")
    def _no_null_for_what_every_camera_has(self) -> CameraSettingsIn:
        for name in ("ptz", "pan_zero_deg", "mount_height_m"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null (leave it out to keep the current value)")
        return self


class CameraIn(CameraSettingsIn):
    gu: str = Field(min_length=1, max_length=20)
    address: str = Field(max_length=300)
    lat: float
    lon: float
    purpose: str = Field(default="생활방범", max_length=50)
    camera_count: int = 1


class ViewLogOut(_Out):
    id: int
    username: str
    incident_id: str | None
    camera_id: str | None
    action: str
    at: datetime
    data: dict[str, Any]


def incident_out(incident: Incident) -> CctvIncidentOut:
    assert incident.lat is not None
    assert incident.lon is not None
    return CctvIncidentOut(
        id=incident.id,
        status=incident.status.value,
        priority=int(incident.priority),
        channel=incident.channel.value,
        received_at=incident.received_at,
        lat=incident.lat,
        lon=incident.lon,
        radius_m=incident.radius_m or 0.0,
        location_method=incident.location_method,
        located_at=incident.located_at,
        area_m2=incident.area_m2,
        growth_mps=incident.growth_mps,
        drill=incident.drill,
    )


def camera_out(camera: Camera, selected: SelectedCamera | None = None) -> CameraOut:
    return CameraOut(
        id=camera.id,
        label=camera.label,
        gu=camera.gu,
        address=camera.address,
        lat=camera.lat,
        lon=camera.lon,
        purpose=camera.purpose,
        camera_count=camera.camera_count,
        ptz=camera.ptz,
        steerable=camera.steerable,
        bearing_deg=None if camera.sees_all_around else camera.bearing_deg,
        fov_deg=camera.effective_fov_deg,
        range_m=camera.effective_range_m,
        has_stream=bool(camera.stream_url),
        share=round(selected.choice.share, 4) if selected else None,
        distance_m=round(selected.choice.distance_m, 1) if selected else None,
        bearing_to_target_deg=round(selected.choice.bearing_to_target_deg, 1) if selected else None,
    )
