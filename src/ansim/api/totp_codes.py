"""An admin issues a person a one-time code to enrol their authenticator (no trust on first use)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from ansim.api.auth import ContextDep, require_staff, staff_actor
from ansim.domain.staff import Role, StaffUser
from ansim.services import staff_commands

router = APIRouter(prefix="/api/v1/admin/staff", tags=["staff administration"])
AdminUser = Annotated[StaffUser, Depends(require_staff(Role.ADMIN))]


class EnrolmentCodeOut(BaseModel):
    username: str
    enrolment_code: str
    valid_for_s: float


@router.post(
    "/{username}/totp-enrolment-code",
    operation_id="admin_issue_totp_enrolment_code",
    response_model=EnrolmentCodeOut,
    status_code=201,
)
async def issue_totp_enrolment_code(
    username: str, request: Request, context: ContextDep, user: AdminUser
) -> EnrolmentCodeOut:
    """A fresh one-time code (shown once; replaces an earlier one) to hand to the person in person."""
    valid_for = timedelta(seconds=context.settings.totp_enrolment_code_valid_s)

    def command() -> str:
        return staff_commands.do_issue_totp_enrolment_code(
            context.platform,
            username=username,
            valid_for=valid_for,
            actor=staff_actor(request, user),
        )

    code = await run_in_threadpool(command)
    return EnrolmentCodeOut(
        username=username, enrolment_code=code, valid_for_s=valid_for.total_seconds()
    )
