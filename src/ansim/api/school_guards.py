"""Administrators enrol school guards (배움터지킴이) with phone and duty hours."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from ansim.api.auth import ContextDep, require_staff, staff_actor
from ansim.api.context import AppContext
from ansim.domain.school_guards import SchoolGuard
from ansim.domain.staff import Role, StaffUser
from ansim.services import enrolment_commands, school_guards

router = APIRouter(prefix="/api/v1/admin/school-guards", tags=["administration"])
Admin = Annotated[StaffUser, Depends(require_staff(Role.ADMIN, Role.SUPERVISOR))]
_HHMM = r"^([01]\d|2[0-3]):[0-5]\d$"


class SchoolGuardIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    school: str = Field(min_length=1, max_length=200)
    name: str = Field(min_length=1, max_length=200)
    phone: str = Field(default="", max_length=32)
    email: str = Field(default="", max_length=200)
    duty_start: str = Field(pattern=_HHMM, description="local time (Asia/Seoul), HH:MM")
    duty_end: str = Field(pattern=_HHMM)
    weekdays: str = Field(default="01234", description="days on duty, Monday = 0")
    language: str = "ko"
    active: bool = True


class SchoolGuardPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    school: str | None = Field(default=None, min_length=1, max_length=200)
    name: str | None = Field(default=None, min_length=1, max_length=200)
    phone: str | None = Field(default=None, max_length=32)
    email: str | None = Field(default=None, max_length=200)
    duty_start: str | None = Field(default=None, pattern=_HHMM)
    duty_end: str | None = Field(default=None, pattern=_HHMM)
    weekdays: str | None = None
    language: str | None = None
    active: bool | None = None


class SchoolGuardOut(SchoolGuardIn):
    model_config = ConfigDict(extra="ignore")
    id: str


def _out(guard: SchoolGuard) -> SchoolGuardOut:
    return SchoolGuardOut(**{name: getattr(guard, name) for name in SchoolGuardOut.model_fields})


def _list(context: AppContext, school: str | None) -> list[SchoolGuardOut]:
    with context.uow.read() as session:
        return [_out(g) for g in school_guards.list_all(session, school=school)]


@router.get("", operation_id="list_school_guards", response_model=list[SchoolGuardOut])
async def list_school_guards(
    context: ContextDep, _user: Admin, school: str | None = None
) -> list[SchoolGuardOut]:
    """Lists school guards, optionally of one school."""
    return await run_in_threadpool(_list, context, school)


def _create(
    context: AppContext, request: Request, user: StaffUser, body: SchoolGuardIn
) -> SchoolGuardOut:
    guard = enrolment_commands.do_create_school_guard(
        context.platform, fields=body.model_dump(), actor=staff_actor(request, user)
    )
    return _out(guard)


@router.post("", operation_id="create_school_guard", response_model=SchoolGuardOut, status_code=201)
async def create_school_guard(
    body: SchoolGuardIn, request: Request, context: ContextDep, user: Admin
) -> SchoolGuardOut:
    """Enrols a school guard."""
    return await run_in_threadpool(_create, context, request, user, body)


def _update(
    context: AppContext, request: Request, user: StaffUser, guard_id: str, body: SchoolGuardPatch
) -> SchoolGuardOut:
    guard = enrolment_commands.do_update_school_guard(
        context.platform,
        guard_id=guard_id,
        changes=body.model_dump(exclude_none=True),
        actor=staff_actor(request, user),
    )
    return _out(guard)


@router.patch("/{guard_id}", operation_id="update_school_guard", response_model=SchoolGuardOut)
async def update_school_guard(
    guard_id: str, body: SchoolGuardPatch, request: Request, context: ContextDep, user: Admin
) -> SchoolGuardOut:
    """Changes a school guard's details or duty hours."""
    return await run_in_threadpool(_update, context, request, user, guard_id, body)


def _delete(context: AppContext, request: Request, user: StaffUser, guard_id: str) -> None:
    enrolment_commands.do_delete_school_guard(
        context.platform, guard_id=guard_id, actor=staff_actor(request, user)
    )


@router.delete("/{guard_id}", operation_id="delete_school_guard", status_code=204)
async def delete_school_guard(
    guard_id: str, request: Request, context: ContextDep, user: Admin
) -> Response:
    """Removes a school guard (links already sent stop working)."""
    await run_in_threadpool(_delete, context, request, user, guard_id)
    return Response(status_code=204)
