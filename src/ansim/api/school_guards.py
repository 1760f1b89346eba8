"""Administrators enrol school guards (배움터지킴이) with phone and duty hours."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from ansim.api.auth import ContextDep, require_staff
from ansim.api.context import AppContext
from ansim.domain.school_guards import SchoolGuard
from ansim.domain.staff import Role, StaffUser
from ansim.services import school_guards

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


def _create(context: AppContext, body: SchoolGuardIn) -> SchoolGuardOut:
    with context.uow.begin() as session:
        return _out(school_guards.create(session, **body.model_dump()))


@router.post("", operation_id="create_school_guard", response_model=SchoolGuardOut, status_code=201)
async def create_school_guard(
    body: SchoolGuardIn, context: ContextDep, _user: Admin
) -> SchoolGuardOut:
    """Enrols a school guard."""
    return await run_in_threadpool(_create, context, body)


def _update(context: AppContext, guard_id: str, body: SchoolGuardPatch) -> SchoolGuardOut:
    with context.uow.begin() as session:
        changes = body.model_dump(exclude_none=True)
        return _out(school_guards.update(session, guard_id=guard_id, changes=changes))


@router.patch("/{guard_id}", operation_id="update_school_guard", response_model=SchoolGuardOut)
async def update_school_guard(
    guard_id: str, body: SchoolGuardPatch, context: ContextDep, _user: Admin
) -> SchoolGuardOut:
    """Changes a school guard's details or duty hours."""
    return await run_in_threadpool(_update, context, guard_id, body)


def _delete(context: AppContext, guard_id: str) -> None:
    with context.uow.begin() as session:
        school_guards.delete(session, guard_id=guard_id)


@router.delete("/{guard_id}", operation_id="delete_school_guard", status_code=204)
async def delete_school_guard(guard_id: str, context: ContextDep, _user: Admin) -> Response:
    """Removes a school guard (links already sent stop working)."""
    await run_in_threadpool(_delete, context, guard_id)
    return Response(status_code=204)
