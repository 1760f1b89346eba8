"""Units: the fleet for the board, status and position reports from a unit's terminal."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from ansim.api import views
from ansim.api.audit_admin import audited_command
from ansim.api.auth import ContextDep, FieldUser
from ansim.api.schemas import PositionIn, UnitOut, UnitStatusIn
from ansim.domain.errors import Forbidden
from ansim.domain.staff import Role, StaffUser
from ansim.domain.units import AssignmentState, UnitStatus
from ansim.services import dispatch, dispatch_flow
from ansim.services.road_ranking import check_on_map

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
    with audited_command(
        context,
        request,
        user,
        action="unit.status",
        subject=f"unit:{unit_id}",
        detail={"status": body.status.value},
    ) as session:
        current = dispatch.open_assignments(session, unit_id=unit_id)
        if (
            body.status == UnitStatus.AVAILABLE
            and current
            and current[0].state == AssignmentState.ORDERED
        ):
            # Clearing an order never acknowledged is a decline: the order moves on at once.
            dispatch_flow.decline(
                session,
                assignment_id=current[0].id,
                platform=context.platform,
                actor=user.username,
                at=context.now(),
            )
            return views.unit_out(dispatch.get_unit(session, unit_id=unit_id))
        unit = dispatch.change_unit_status(
            session, unit_id=unit_id, status=body.status, actor=user.username, at=context.now()
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
    check_on_map(context.ranker, body.lat, body.lon)
    with context.uow.begin() as session:
        unit = dispatch.move_unit(
            session, unit_id=unit_id, lat=body.lat, lon=body.lon, at=context.now()
        )
        return views.unit_out(unit)


@router.post("/{unit_id}/position", operation_id="report_unit_position", response_model=UnitOut)
async def report_unit_position(
    unit_id: str, body: PositionIn, context: ContextDep, user: FieldUser
) -> UnitOut:
    """A position report (AVL) from the unit's terminal; a position off the road map answers 422."""
    return await run_in_threadpool(_position, context, user, unit_id, body)
