"""The CCTV control center's API: incidents of the operator's district, cameras, aiming, marks, clips."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool

from ansim.api.auth import ContextDep, require_staff
from ansim.api.cctv_schemas import (
    AimIn,
    AimOut,
    AreaIn,
    CameraIn,
    CameraOut,
    CameraSettingsIn,
    CctvIncidentOut,
    ClipIn,
    IncidentCamerasOut,
    LiveOut,
    MarkOut,
    OperatorOut,
    SightingIn,
    ViewLogOut,
    camera_out,
    incident_out,
)
from ansim.api.context import AppContext
from ansim.cctv import access, commands, registry, service
from ansim.cctv.cameras import Camera
from ansim.cctv.service import IndexCache
from ansim.domain.errors import Forbidden, NotFound
from ansim.domain.incidents import Incident
from ansim.domain.staff import Role, StaffUser
from ansim.services import incidents

api = APIRouter(prefix="/api/v1/cctv", tags=["cctv control center"])
pages = APIRouter(include_in_schema=False)
STATIC = Path(__file__).resolve().parent.parent / "web" / "static" / "cctv"
# A camera may be opened for an incident only if it is among this many best for it.
WATCH_LIMIT = 50

CctvUser = Annotated[
    StaffUser,
    Depends(require_staff(Role.CCTV_OPERATOR, Role.DISPATCHER, Role.SUPERVISOR, Role.ADMIN)),
]
AdminUser = Annotated[StaffUser, Depends(require_staff(Role.ADMIN))]
AuditUser = Annotated[StaffUser, Depends(require_staff(Role.SUPERVISOR, Role.ADMIN))]


def _index(request: Request) -> IndexCache:
    cache: IndexCache | None = getattr(request.app.state, "cctv_index", None)
    if cache is None:
        cache = request.app.state.cctv_index = IndexCache()
    return cache


IndexDep = Annotated[IndexCache, Depends(_index)]


@pages.get("/cctv")
async def cctv_page() -> FileResponse:
    return FileResponse(STATIC / "index.html")


@api.get("/me", operation_id="cctv_me", response_model=OperatorOut)
async def me(context: ContextDep, user: CctvUser) -> OperatorOut:
    """Who is at this console and which district they watch."""

    def query() -> OperatorOut:
        with context.uow.read() as session:
            gu = access.area_of(session, user_id=user.id)
        return OperatorOut(
            username=user.username, display_name=user.display_name, role=user.role.value, gu=gu
        )

    return await run_in_threadpool(query)


@api.get("/incidents", operation_id="cctv_list_incidents", response_model=list[CctvIncidentOut])
async def list_incidents(context: ContextDep, user: CctvUser) -> list[CctvIncidentOut]:
    """Active incidents this console may watch (an operator: their district only)."""

    def query() -> list[CctvIncidentOut]:
        found = commands.do_list_watchable_incidents(context.platform, user=user)
        return [incident_out(i) for i in found]

    return await run_in_threadpool(query)


def _watched(context: AppContext, user: StaffUser, incident_id: str) -> Incident:
    with context.uow.read() as session:
        incident = incidents.get(session, incident_id=incident_id)
        access.check_may_watch(session, user=user, incident=incident)
    if incident.lat is None:
        raise NotFound("the incident has no location yet")
    return incident


def _camera_for(
    context: AppContext, cache: IndexCache, incident: Incident, camera_id: str
) -> Camera:
    with context.uow.read() as session:
        camera = registry.get(session, camera_id=camera_id)
        near = service.select_for(
            session, incident=incident, cache=cache, limit=WATCH_LIMIT, now=context.now()
        )
    if camera.id not in {s.camera.id for s in near}:
        raise Forbidden("this camera does not cover the incident's area")
    return camera


@api.get(
    "/incidents/{incident_id}",
    operation_id="cctv_incident_cameras",
    response_model=IncidentCamerasOut,
)
async def incident_cameras(
    incident_id: str, context: ContextDep, user: CctvUser, cache: IndexDep, limit: int = 20
) -> IncidentCamerasOut:
    """The cameras that cover the incident's likely area now (recomputed as the estimate moves)."""

    def query() -> IncidentCamerasOut:
        incident = _watched(context, user, incident_id)
        view = commands.do_view_incident_cameras(
            context.platform,
            user=user,
            incident=incident,
            cache=cache,
            limit=min(max(limit, 1), WATCH_LIMIT),
        )
        return IncidentCamerasOut(
            incident=incident_out(incident),
            cameras=[camera_out(s.camera, s) for s in view.selected],
            marks=[MarkOut(kind=e.kind, at=e.at, actor=e.actor, data=e.data) for e in view.marks],
        )

    return await run_in_threadpool(query)


@api.post(
    "/incidents/{incident_id}/cameras/{camera_id}/live",
    operation_id="cctv_open_live_view",
    response_model=LiveOut,
)
async def open_live_view(
    incident_id: str, camera_id: str, context: ContextDep, user: CctvUser, cache: IndexDep
) -> LiveOut:
    """The live stream address of a camera covering the incident; the opening is logged."""

    def command() -> LiveOut:
        incident = _watched(context, user, incident_id)
        camera = _camera_for(context, cache, incident, camera_id)
        commands.do_open_live_view(context.platform, user=user, incident=incident, camera=camera)
        return LiveOut(
            camera_id=camera.id,
            stream_url=camera.stream_url,
            status="available" if camera.stream_url else "no_stream",
        )

    return await run_in_threadpool(command)


@api.post(
    "/incidents/{incident_id}/cameras/{camera_id}/aim",
    operation_id="cctv_aim_camera",
    response_model=AimOut,
)
async def aim_camera(
    incident_id: str,
    camera_id: str,
    body: AimIn,
    context: ContextDep,
    user: CctvUser,
    cache: IndexDep,
) -> AimOut:
    """Turns a PTZ camera toward the estimate; an unreachable camera answers status 'unreachable'."""

    def command() -> AimOut:
        incident = _watched(context, user, incident_id)
        camera = _camera_for(context, cache, incident, camera_id)
        outcome = service.do_aim(
            context.platform,
            incident=incident,
            camera=camera,
            actor=user.username,
            use_preset=body.preset,
        )
        target = outcome.target
        return AimOut(
            camera_id=camera.id,
            status=outcome.status,
            message=outcome.message,
            pan=target.pan,
            tilt=target.tilt,
            zoom=target.zoom,
            bearing_deg=round(target.bearing_deg, 1),
            distance_m=round(target.distance_m, 1),
        )

    return await run_in_threadpool(command)


@api.post(
    "/incidents/{incident_id}/sightings",
    operation_id="cctv_mark_sighting",
    response_model=MarkOut,
    status_code=201,
)
async def mark_sighting(
    incident_id: str, body: SightingIn, context: ContextDep, user: CctvUser, cache: IndexDep
) -> MarkOut:
    """'Person seen on camera N': the board sees it at once."""

    def command() -> MarkOut:
        incident = _watched(context, user, incident_id)
        camera = _camera_for(context, cache, incident, body.camera_id)
        at = commands.do_mark_sighting(
            context.platform, incident=incident, camera=camera, note=body.note, actor=user.username
        )
        return MarkOut(
            kind="person_seen",
            at=at,
            actor=user.username,
            data={"camera_id": camera.id, "camera_label": camera.label, "note": body.note},
        )

    return await run_in_threadpool(command)


@api.post(
    "/incidents/{incident_id}/clips",
    operation_id="cctv_request_clip",
    response_model=MarkOut,
    status_code=201,
)
async def request_clip(
    incident_id: str, body: ClipIn, context: ContextDep, user: CctvUser, cache: IndexDep
) -> MarkOut:
    """Asks for a camera's recording to be kept (default: from 2 min before the SOS until now)."""

    def command() -> MarkOut:
        incident = _watched(context, user, incident_id)
        camera = _camera_for(context, cache, incident, body.camera_id)
        at = context.now()
        data = commands.do_request_clip(
            context.platform,
            incident=incident,
            camera=camera,
            note=body.note,
            actor=user.username,
            start=body.start,
            end=body.end,
        )
        return MarkOut(kind="clip_requested", at=at, actor=user.username, data=data)

    return await run_in_threadpool(command)


@api.put("/operators/{username}/area", operation_id="cctv_assign_area", response_model=OperatorOut)
async def assign_area(
    username: str, body: AreaIn, context: ContextDep, user: AdminUser
) -> OperatorOut:
    """Gives a cctv_operator account its district (자치구)."""

    def command() -> OperatorOut:
        operator, gu = commands.do_assign_cctv_area(
            context.platform, username=username, gu=body.gu, actor=user.username
        )
        return OperatorOut(
            username=operator.username,
            display_name=operator.display_name,
            role=operator.role.value,
            gu=gu,
        )

    return await run_in_threadpool(command)


@api.get("/view-log", operation_id="cctv_view_log", response_model=list[ViewLogOut])
async def view_log(
    context: ContextDep, _user: AuditUser, incident_id: str | None = None, limit: int = 500
) -> list[ViewLogOut]:
    """Who looked at what, newest first (supervisors and admins)."""

    def query() -> list[ViewLogOut]:
        with context.uow.read() as session:
            rows = access.view_log(session, incident_id=incident_id, limit=min(max(limit, 1), 5000))
        return [ViewLogOut(**{k: row[k] for k in ViewLogOut.model_fields}) for row in rows]

    return await run_in_threadpool(query)


@api.post(
    "/cameras", operation_id="cctv_register_camera", response_model=CameraOut, status_code=201
)
async def register_camera(body: CameraIn, context: ContextDep, _user: AdminUser) -> CameraOut:
    """Registers one camera by hand, e.g. a PTZ dome with its ONVIF service."""
    values = body.model_dump(exclude_none=True)
    place = {k: values.pop(k) for k in ("gu", "address", "lat", "lon", "purpose", "camera_count")}

    def command() -> CameraOut:
        camera = commands.do_register_camera(context.platform, fields={**place, **values})
        return camera_out(camera)

    return await run_in_threadpool(command)


@api.patch("/cameras/{camera_id}", operation_id="cctv_update_camera", response_model=CameraOut)
async def update_camera(
    camera_id: str, body: CameraSettingsIn, context: ContextDep, _user: AdminUser
) -> CameraOut:
    """Changes a camera's PTZ/ONVIF, stream, field of view or range."""

    def command() -> CameraOut:
        camera = commands.do_update_camera(
            context.platform, camera_id=camera_id, settings=body.model_dump(exclude_unset=True)
        )
        return camera_out(camera)

    return await run_in_threadpool(command)


# One router for create_app: the API and the console page (included last, after every route exists).
router = APIRouter()
router.include_router(api)
router.include_router(pages)
