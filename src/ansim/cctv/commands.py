"""The CCTV control center's commands: every look is logged, every mark and setting is a change.

Each takes the command layer's Platform first and owns its transaction; the console's routes only
check who may watch what (reads), call one of these, and render.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from ansim.cctv import access, registry, service
from ansim.cctv.cameras import Camera
from ansim.cctv.service import IndexCache, SelectedCamera
from ansim.domain.errors import NotFound
from ansim.domain.incidents import Incident, IncidentEvent
from ansim.domain.staff import StaffUser
from ansim.services import incidents, staff
from ansim.services.platform import Platform, transaction

# Timeline entries the console shows beside the cameras.
MARKS = frozenset({"person_seen", "clip_requested", "camera_aimed"})


@dataclass(frozen=True)
class CameraView:
    selected: list[SelectedCamera]
    marks: list[IncidentEvent]


def do_list_watchable_incidents(
    platform: Platform, *, user: StaffUser, session: Session | None = None
) -> list[Incident]:
    """Active incidents this console may watch (an operator: their district only); the look is logged."""
    with transaction(platform, session) as own:
        found = access.watchable_incidents(own, user=user)
        access.log_view(
            own,
            user=user,
            action="list",
            at=platform.now(),
            data={"incidents": [i.id for i in found]},
        )
        return found


def do_view_incident_cameras(
    platform: Platform,
    *,
    user: StaffUser,
    incident: Incident,
    cache: IndexCache,
    limit: int,
    session: Session | None = None,
) -> CameraView:
    """The cameras covering the incident's likely area now and the marks so far; the look is logged."""
    with transaction(platform, session) as own:
        selected = service.select_for(
            own, incident=incident, cache=cache, limit=limit, now=platform.now()
        )
        marks = [e for e in incidents.timeline(own, incident_id=incident.id) if e.kind in MARKS]
        access.log_view(
            own,
            user=user,
            action="incident",
            at=platform.now(),
            incident_id=incident.id,
            data={"cameras": [s.camera.id for s in selected]},
        )
        return CameraView(selected, marks)


def do_open_live_view(
    platform: Platform,
    *,
    user: StaffUser,
    incident: Incident,
    camera: Camera,
    session: Session | None = None,
) -> None:
    """Logs the opening of a camera's live stream for an incident."""
    with transaction(platform, session) as own:
        access.log_view(
            own,
            user=user,
            action="live_view",
            at=platform.now(),
            incident_id=incident.id,
            camera_id=camera.id,
        )


def do_mark_sighting(
    platform: Platform,
    *,
    incident: Incident,
    camera: Camera,
    note: str,
    actor: str,
    session: Session | None = None,
) -> datetime:
    """'Person seen on camera N': onto the timeline and to the board at once. Returns its time."""
    at = platform.now()
    with transaction(platform, session) as own:
        service.record_sighting(
            own, incident=incident, camera=camera, note=note, actor=actor, at=at
        )
    return at


def do_request_clip(
    platform: Platform,
    *,
    incident: Incident,
    camera: Camera,
    note: str,
    actor: str,
    start: datetime | None = None,
    end: datetime | None = None,
    session: Session | None = None,
) -> dict[str, Any]:
    """Asks for a camera's recording to be kept (default: from before the SOS until now)."""
    with transaction(platform, session) as own:
        return service.request_clip(
            own,
            incident=incident,
            camera=camera,
            note=note,
            actor=actor,
            at=platform.now(),
            start=start,
            end=end,
        )


def do_assign_cctv_area(
    platform: Platform, *, username: str, gu: str, actor: str, session: Session | None = None
) -> tuple[StaffUser, str]:
    """Gives a cctv_operator account its district (자치구); returns the operator and the district."""
    with transaction(platform, session) as own:
        operator = staff.find_user(own, username=username)
        if operator is None:
            raise NotFound(f"no staff user {username}")
        return operator, access.assign_area(
            own, user=operator, gu=gu, actor=actor, at=platform.now()
        )


def do_register_camera(
    platform: Platform, *, fields: dict[str, Any], session: Session | None = None
) -> Camera:
    """Registers one camera by hand, e.g. a PTZ dome with its ONVIF service."""
    with transaction(platform, session) as own:
        return registry.create(own, at=platform.now(), **fields)


def do_update_camera(
    platform: Platform, *, camera_id: str, settings: dict[str, Any], session: Session | None = None
) -> Camera:
    """Changes a camera's PTZ/ONVIF, stream, field of view or range."""
    with transaction(platform, session) as own:
        return registry.update_settings(own, camera_id=camera_id, at=platform.now(), **settings)
