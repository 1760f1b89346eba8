"""Units: the fleet for the board, status and position reports from a unit's terminal."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from ansim.api import views
from ansim.api.auth import ContextDep, FieldUser, staff_actor
from ansim.api.schemas import PositionIn, UnitOut, UnitStatusIn
from ansim.domain.errors import Forbidden
from ansim.domain.staff import Role, StaffUser
from ansim.services import dispatch, unit_commands

router = APIRouter(prefix="/api/v1/units", tags=["units"])


def _check_own_unit(user: StaffUser, unit_id: str) -> None:
    if user.role == Role.OFFICER and user.unit_id != unit_id:
        raise Forbidden("an officer reports only for their own unit")


def _list(context: ContextDep) -> list[UnitOut]:
    with context.uow.read() as session:
        return [views.unit_out(u) for u in dispatch.list_units(session)]


@router.get("", operation_id="list_units", response_model=list[UnitOut])
async def list_units(context: ContextDep, _user: FieldUser) -> list[UnitOut]:
    """Every unit with its status and last position."""
    return await run_in_threadpool(_list, context)


def _status(
    context: ContextDep, request: Request, user: StaffUser, unit_id: str, body: UnitStatusIn
) -> UnitOut:
    _check_own_unit(user, unit_id)
    unit = unit_commands.do_change_unit_status(
        context.platform, unit_id=unit_id, status=body.status, actor=staff_actor(request, user)
    )
    return views.unit_out(unit)


@router.post("/{unit_id}/status", operation_id="change_unit_status", response_model=UnitOut)
async def change_unit_status(
    unit_id: str, body: UnitStatusIn, request: Request, context: ContextDep, user: FieldUser
) -> UnitOut:
    """Acknowledge (en route), on scene, clear (available): the assignment follows the unit."""
    return await run_in_threadpool(_status, context, request, user, unit_id, body)


def _position(context: ContextDep, user: StaffUser, unit_id: str, body: PositionIn) -> UnitOut:
    _check_own_unit(user, unit_id)
    unit = unit_commands.do_report_unit_position(
        context.platform, unit_id=unit_id, lat=body.lat, lon=body.lon
    )
    return views.unit_out(unit)


@router.post("/{unit_id}/position", operation_id="report_unit_position", response_model=UnitOut)
async def report_unit_position(
    unit_id: str, body: PositionIn, context: ContextDep, user: FieldUser
) -> UnitOut:
    """A position report (AVL) from the unit's terminal; a position off the road map answers 422."""
    return await run_in_threadpool(_position, context, user, unit_id, body)
