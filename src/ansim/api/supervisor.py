"""The supervisor's view: live figures since the start of the current shift."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from ansim.api.auth import ContextDep, require_staff
from ansim.domain.staff import Role, StaffUser
from ansim.services import shift_figures

router = APIRouter(prefix="/api/v1/supervisor", tags=["supervisor"])
Supervisor = Annotated[StaffUser, Depends(require_staff(Role.SUPERVISOR, Role.ADMIN))]


@router.get("/shift", operation_id="get_shift_figures")
async def get_shift_figures(context: ContextDep, _user: Supervisor) -> dict[str, Any]:
    """Open incidents by code now; since the shift began (`ANSIM_SHIFT_CHANGES`, Seoul times):
    SOS received, press → first order and order → acknowledgement (count, median, p90 in seconds),
    verification outcomes by state."""

    return await context.read(
        lambda session: shift_figures.figures(
            session, now=context.now(), changes=context.settings.shift_changes
        )
    )
