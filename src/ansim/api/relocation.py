"""Carrier re-location (HELD): the dispatcher asks where a caller is now; admins set the carrier's
location server. Routes parse, call one command and render."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from ansim.api import views
from ansim.api.auth import ConsoleUser, ContextDep, staff_actor
from ansim.api.enrolment import Admin
from ansim.api.schemas import LocationServerIn, RelocationOut
from ansim.intake.held import LocationServer
from ansim.services import relocation

router = APIRouter(tags=["location"])


@router.post(
    "/api/v1/incidents/{incident_id}/relocate",
    operation_id="relocate_caller",
    response_model=RelocationOut,
    responses={409: {"description": "no caller number, no carrier location server, or closed"}},
)
async def relocate_caller(
    incident_id: str, request: Request, context: ContextDep, user: ConsoleUser
) -> RelocationOut:
    """Asks the caller's carrier (HELD) for a fresh location now; a failure is an answer too."""
    actor = staff_actor(request, user)
    found = await run_in_threadpool(
        relocation.do_relocate_caller, context.platform, incident_id=incident_id, actor=actor
    )
    return views.relocation_out(found)


@router.put(
    "/api/v1/admin/carriers/{carrier_id}/location-server",
    operation_id="admin_set_carrier_location_server",
    status_code=204,
)
async def admin_set_carrier_location_server(
    carrier_id: str, body: LocationServerIn, request: Request, context: ContextDep, user: Admin
) -> None:
    """Sets the carrier's HELD location server and credentials (the password encrypted at rest)."""
    server = LocationServer(body.url, body.username, body.password)
    await run_in_threadpool(
        relocation.do_set_location_server,
        context.platform,
        carrier_id=carrier_id,
        server=server,
        actor=staff_actor(request, user),
    )
