"""Staff administration over HTTP (admins): list, add, change role and districts, disable,
reset the second factor, revoke sessions. Each call is one `do_*` command of services.staff_admin."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from ansim.api.auth import ContextDep, require_staff, staff_actor
from ansim.domain.staff import Role, StaffUser
from ansim.services import staff_admin
from ansim.services.staff_admin import StaffView

router = APIRouter(prefix="/api/v1/admin/staff", tags=["staff administration"])
pages = APIRouter(tags=["pages"])
PAGE = Path(__file__).resolve().parent.parent / "web" / "static" / "admin" / "staff.html"
AdminUser = Annotated[StaffUser, Depends(require_staff(Role.ADMIN))]


class StaffOut(BaseModel):
    username: str
    display_name: str
    role: Role
    districts: list[str]
    unit_id: str | None
    disabled: bool
    totp_enrolled: bool
    created_at: datetime


class StaffIn(BaseModel):
    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=200)
    role: Role
    display_name: str = Field(default="", max_length=200)
    districts: list[str] = Field(default_factory=list, max_length=25)
    unit_id: str | None = None


class StaffChangeIn(BaseModel):
    role: Role | None = None
    districts: list[str] | None = Field(default=None, max_length=25)
    display_name: str | None = Field(default=None, max_length=200)
    unit_id: str | None = None


class DisabledIn(BaseModel):
    disabled: bool


class RevokedOut(BaseModel):
    sessions_revoked: int


def _out(view: StaffView) -> StaffOut:
    return StaffOut(**view.__dict__)


@pages.get("/admin/staff", operation_id="staff_admin_page", include_in_schema=False)
async def staff_page() -> FileResponse:
    return FileResponse(PAGE)


@router.get("", operation_id="admin_list_staff", response_model=list[StaffOut])
async def list_staff(context: ContextDep, _user: AdminUser) -> list[StaffOut]:
    return await context.read(lambda session: [_out(v) for v in staff_admin.list_staff(session)])


@router.post("", operation_id="admin_add_staff", response_model=StaffOut, status_code=201)
async def add_staff(
    body: StaffIn, request: Request, context: ContextDep, user: AdminUser
) -> StaffOut:
    """Adds an account (password ≥ 12 characters, zxcvbn score ≥ 3); TOTP is enrolled at first login."""
    view = await run_in_threadpool(
        lambda: staff_admin.do_add_staff_user(
            context.platform,
            username=body.username,
            password=body.password,
            role=body.role,
            display_name=body.display_name,
            districts=body.districts,
            unit_id=body.unit_id,
            actor=staff_actor(request, user),
        )
    )
    return _out(view)


@router.patch("/{username}", operation_id="admin_change_staff", response_model=StaffOut)
async def change_staff(
    username: str, body: StaffChangeIn, request: Request, context: ContextDep, user: AdminUser
) -> StaffOut:
    """Changes role, districts, name or unit (a new role ends the user's sessions)."""
    view = await run_in_threadpool(
        lambda: staff_admin.do_change_staff_user(
            context.platform,
            username=username,
            role=body.role,
            districts=body.districts,
            display_name=body.display_name,
            unit_id=body.unit_id,
            actor=staff_actor(request, user),
        )
    )
    return _out(view)


@router.put("/{username}/disabled", operation_id="admin_disable_staff", response_model=StaffOut)
async def set_disabled(
    username: str, body: DisabledIn, request: Request, context: ContextDep, user: AdminUser
) -> StaffOut:
    """Disables (ending every session) or re-enables an account; its history stays."""
    view = await run_in_threadpool(
        lambda: staff_admin.do_set_staff_disabled(
            context.platform,
            username=username,
            disabled=body.disabled,
            actor=staff_actor(request, user),
        )
    )
    return _out(view)


@router.post(
    "/{username}/totp-reset", operation_id="admin_reset_staff_totp", response_model=StaffOut
)
async def reset_totp(
    username: str, request: Request, context: ContextDep, user: AdminUser
) -> StaffOut:
    """Forgets the second factor (lost phone); the next login enrols a new one. Audited."""
    view = await run_in_threadpool(
        lambda: staff_admin.do_reset_staff_totp(
            context.platform, username=username, actor=staff_actor(request, user)
        )
    )
    return _out(view)


@router.post(
    "/{username}/sessions/revoke",
    operation_id="admin_revoke_staff_sessions",
    response_model=RevokedOut,
)
async def revoke_sessions(
    username: str, request: Request, context: ContextDep, user: AdminUser
) -> RevokedOut:
    """Ends every open session of the user."""
    count = await run_in_threadpool(
        lambda: staff_admin.do_revoke_staff_sessions(
            context.platform, username=username, actor=staff_actor(request, user)
        )
    )
    return RevokedOut(sessions_revoked=count)
