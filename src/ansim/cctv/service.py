"""CCTV commands: cameras for an incident, aim a PTZ, mark a sighting, request a clip."""

from __future__ import annotations

import dataclasses
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from ansim.cctv import registry
from ansim.cctv.aiming import PtzTarget, aim_at
from ansim.cctv.cameras import Camera
from ansim.cctv.onvif import CameraUnreachable, OnvifEndpoint, absolute_move, goto_preset
from ansim.cctv.selection import CameraChoice, CameraIndex, CoverageView, UncertaintyRegion
from ansim.domain.errors import Conflict, InvalidInput
from ansim.domain.incidents import Incident, IncidentEvent
from ansim.geo.road_region import region_samples
from ansim.services import location
from ansim.services.platform import Platform, transaction
from ansim.store import outbox
from ansim.store.tables import cctv_bookmarks

# A clip without an explicit start reaches back this far before the SOS.
CLIP_LEAD = timedelta(minutes=2)
MAX_CLIP = timedelta(hours=6)


class IndexCache:
    """The spatial index of the registry, rebuilt only when the registry changed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._revision: tuple[int, datetime | None] | None = None
        self._index = CameraIndex([])

    def get(self, session: Session) -> CameraIndex:
        current = registry.revision(session)
        with self._lock:
            if current != self._revision:
                views = [CoverageView.of(c) for c in registry.list_all(session)]
                self._index, self._revision = CameraIndex(views), current
            return self._index


def region_of(incident: Incident) -> UncertaintyRegion | None:
    """The estimate's 95 % region: its ellipse when the incident carries one, else its circle."""
    if incident.lat is None or incident.lon is None:
        return None
    major = getattr(incident, "semi_major_m", None)
    minor = getattr(incident, "semi_minor_m", None)
    if major is not None and minor is not None:
        orientation = getattr(incident, "orientation_deg", None) or 0.0
        return UncertaintyRegion(incident.lat, incident.lon, major, minor, orientation)
    return UncertaintyRegion.circle(incident.lat, incident.lon, incident.radius_m or 0.0)


@dataclass(frozen=True, slots=True)
class SelectedCamera:
    camera: Camera
    choice: CameraChoice


def select_for(
    session: Session,
    *,
    incident: Incident,
    cache: IndexCache,
    limit: int = 20,
    now: datetime | None = None,
) -> list[SelectedCamera]:
    """The cameras that can see the incident's likely area now, best first.

    With `now`, a car's road-shaped region at that time is the area (docs/location.md).
    """
    region = region_of(incident)
    if region is None:
        return []
    if now is not None:
        estimate = location.estimate(session, incident_id=incident.id, now=now)
        if estimate is not None and estimate.region is not None:
            samples = region_samples(estimate.region)
            if samples:
                region = dataclasses.replace(
                    region, lat=estimate.lat, lon=estimate.lon, samples=samples
                )
    choices = cache.get(session).select(region, limit=limit)
    found = registry.get_many(session, camera_ids=[c.camera_id for c in choices])
    # A camera deleted since the index was built simply drops out.
    return [SelectedCamera(found[c.camera_id], c) for c in choices if c.camera_id in found]


@dataclass(frozen=True, slots=True)
class AimOutcome:
    camera: Camera
    status: str  # moved | preset | unreachable
    message: str
    target: PtzTarget


def do_aim(
    platform: Platform,
    *,
    incident: Incident,
    camera: Camera,
    actor: str,
    use_preset: bool = False,
) -> AimOutcome:
    """Turns a PTZ camera toward the estimate, then records the result and a recording bookmark.

    The camera is called outside any transaction: a slow camera never holds the store.
    """
    at = platform.now()
    if not camera.steerable:
        raise Conflict(f"camera {camera.label} has no PTZ control (no ONVIF service)")
    if incident.lat is None or incident.lon is None:
        raise Conflict("the incident has no location to aim at yet")
    target = aim_at(camera, lat=incident.lat, lon=incident.lon, radius_m=incident.radius_m or 0.0)
    endpoint = OnvifEndpoint(
        url=camera.onvif_url or "",
        username=camera.onvif_username,
        password=camera.onvif_password,
        profile_token=camera.onvif_profile or "Profile_1",
    )
    try:
        if use_preset:
            if not camera.onvif_preset:
                raise InvalidInput(f"camera {camera.label} has no preset stored")
            goto_preset(endpoint, preset_token=camera.onvif_preset)
            status, message = "preset", f"preset {camera.onvif_preset}"
        else:
            absolute_move(endpoint, pan=target.pan, tilt=target.tilt, zoom=target.zoom)
            status = "moved"
            message = (
                f"bearing {target.bearing_deg:.0f}°, {target.distance_m:.0f} m, "
                f"pan {target.pan:+.3f} tilt {target.tilt:+.3f} zoom {target.zoom:.2f}"
            )
    except CameraUnreachable as error:
        status, message = "unreachable", str(error)
    with transaction(platform) as session:
        if status != "unreachable":
            session.execute(
                cctv_bookmarks.insert().values(
                    id=str(uuid.uuid4()),
                    incident_id=incident.id,
                    camera_id=camera.id,
                    started_at=at,
                    actor=actor,
                    status="recording",
                    detail=message[:300],
                )
            )
        moved = status != "unreachable"
        data: dict[str, Any] = {
            "incident_id": incident.id,
            "camera_id": camera.id,
            "camera_label": camera.label,
            "status": status,
            "pan": target.pan if moved else None,
            "tilt": target.tilt if moved else None,
            "zoom": target.zoom if moved else None,
            "distance_m": target.distance_m,
            "message": message[:300],
            "actor": actor,
        }
        outbox.record(
            session,
            IncidentEvent(incident.id, "camera_aimed", at, actor, dict(data)),
            "cctv.camera_aimed",
            data,
        )
    return AimOutcome(camera, status, message, target)


def record_sighting(
    session: Session, *, incident: Incident, camera: Camera, note: str, actor: str, at: datetime
) -> None:
    """'Person seen on camera N': onto the timeline and to the board at once."""
    data = {
        "incident_id": incident.id,
        "camera_id": camera.id,
        "camera_label": camera.label,
        "lat": camera.lat,
        "lon": camera.lon,
        "note": note.strip()[:500],
        "seen_at": at,
        "actor": actor,
    }
    entry_data = {**data, "seen_at": at.isoformat()}
    outbox.record(
        session,
        IncidentEvent(incident.id, "person_seen", at, actor, entry_data),
        "cctv.person_seen",
        data,
    )


def request_clip(
    session: Session,
    *,
    incident: Incident,
    camera: Camera,
    note: str,
    actor: str,
    at: datetime,
    start: datetime | None = None,
    end: datetime | None = None,
) -> dict[str, Any]:
    """Asks for a camera's recording to be kept, from before the SOS until now unless told."""
    start = start or incident.received_at - CLIP_LEAD
    end = end or at
    if end <= start:
        raise InvalidInput("a clip must end after it starts")
    if end - start > MAX_CLIP:
        raise InvalidInput(f"a clip may span at most {MAX_CLIP}")
    if camera.retention_days is not None and at - start > timedelta(days=camera.retention_days):
        raise Conflict(
            f"camera {camera.label} keeps recordings {camera.retention_days} days; that start is gone"
        )
    data = {
        "incident_id": incident.id,
        "camera_id": camera.id,
        "camera_label": camera.label,
        "start": start,
        "end": end,
        "note": note.strip()[:500],
        "actor": actor,
    }
    entry_data = {**data, "start": start.isoformat(), "end": end.isoformat()}
    outbox.record(
        session,
        IncidentEvent(incident.id, "clip_requested", at, actor, entry_data),
        "cctv.clip_requested",
        data,
    )
    return entry_data
