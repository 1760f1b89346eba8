"""Staff login (password, then the TOTP second factor), enrolment of that factor, and logout."""

from __future__ import annotations

import secrets
from datetime import timedelta

from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from ansim.api.auth import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    AnyStaff,
    ContextDep,
    client_ip,
    session_token,
    staff_actor,
)
from ansim.api.schemas import Body, LoginIn, LoginOut, StaffOut
from ansim.domain.staff import StaffUser
from ansim.security import throttle
from ansim.security.login import LoginAttempt, LoginResult
from ansim.services import staff_commands

router = APIRouter(prefix="/api/v1/session", tags=["staff session"])


class StaffLoginIn(LoginIn):
    otp: str | None = Field(default=None, pattern=r"^\d{6}$", description="the TOTP code")
    recovery_code: str | None = Field(default=None, min_length=6, max_length=40)


class StaffLoginOut(LoginOut):
    enrolment_required: bool = Field(
        default=False, description="the session may only enrol a second factor (TOTP) until it does"
    )
    enrolment_code_required: bool = Field(
        default=False, description="enrolling needs the one-time code an admin issued"
    )


class TotpEnrolmentOut(BaseModel):
    otpauth_uri: str


class TotpStartIn(Body):
    enrolment_code: str | None = Field(
        default=None, min_length=6, max_length=40, description="the one-time code from an admin"
    )


class TotpConfirmIn(Body):
    code: str = Field(pattern=r"^\d{6}$")


class RecoveryCodesOut(BaseModel):
    recovery_codes: list[str] = Field(description="shown once; each works once instead of a code")


def staff_out(user: StaffUser) -> StaffOut:
    return StaffOut(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=user.role,
        unit_id=user.unit_id,
    )


@router.post("", operation_id="log_in", response_model=StaffLoginOut)
async def log_in(
    body: StaffLoginIn, request: Request, context: ContextDep, response: Response
) -> StaffLoginOut:
    """Opens a staff session: an HttpOnly cookie for the browser (with a CSRF token) and a bearer token.

    Dispatchers, supervisors and admins add `otp` (or a `recovery_code`); without an enrolled second
    factor they get a session that may only enrol one. Repeated failures lock the name and address.
    """
    settings = context.settings
    attempt = LoginAttempt(
        username=body.username,
        password=body.password,
        ip=client_ip(request),
        otp=body.otp,
        recovery_code=body.recovery_code,
    )

    def command() -> LoginResult:
        return staff_commands.do_log_in(
            context.platform,
            attempt=attempt,
            lifetime=timedelta(hours=settings.session_hours),
            policy=throttle.Policy.from_settings(settings),
            require_totp=settings.require_totp and not settings.demo,
        )

    result = await run_in_threadpool(command)
    if result.user is None:
        if result.locked_until is not None and not result.second_factor_missing:
            wait = max(1, int((result.locked_until - context.now()).total_seconds()) + 1)
            raise HTTPException(429, result.refusal, {"Retry-After": str(wait)})
        headers = {"X-Second-Factor": "totp"} if result.second_factor_missing else None
        raise HTTPException(401, result.refusal, headers)
    csrf = secrets.token_urlsafe(24)
    max_age = int(settings.session_hours * 3600)
    secure = settings.cookie_secure
    response.set_cookie(
        SESSION_COOKIE,
        result.token,
        max_age=max_age,
        httponly=True,
        samesite="strict",
        secure=secure,
    )
    response.set_cookie(
        CSRF_COOKIE, csrf, max_age=max_age, httponly=False, samesite="strict", secure=secure
    )
    return StaffLoginOut(
        token=result.token,
        csrf_token=csrf,
        user=staff_out(result.user),
        enrolment_required=result.enrolment_only,
        enrolment_code_required=result.enrolment_only and settings.totp_enrolment_code_required,
    )


@router.get("", operation_id="who_am_i", response_model=StaffOut)
async def who_am_i(user: AnyStaff) -> StaffOut:
    """The staff member this session belongs to."""
    return staff_out(user)


@router.delete("", operation_id="log_out", status_code=204)
async def log_out(request: Request, context: ContextDep, user: AnyStaff) -> Response:
    """Revokes this session."""
    token = session_token(request)[0] or ""

    def command() -> None:
        staff_commands.do_log_out(context.platform, token=token, actor=staff_actor(request, user))

    await run_in_threadpool(command)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE)
    response.delete_cookie(CSRF_COOKIE)
    return response


@router.post("/totp", operation_id="start_totp_enrolment", response_model=TotpEnrolmentOut)
async def start_totp_enrolment(
    request: Request, context: ContextDep, user: AnyStaff, body: TotpStartIn | None = None
) -> TotpEnrolmentOut:
    """Starts enrolling an authenticator app: scan the otpauth:// URI, then confirm with a code.

    Where enrolment codes are required, the body carries the one-time code an admin issued.
    """

    def command() -> str:
        return staff_commands.do_start_totp_enrolment(
            context.platform,
            user=user,
            enrolment_code=body.enrolment_code if body else None,
            code_required=context.settings.totp_enrolment_code_required,
            actor=staff_actor(request, user),
        )

    return TotpEnrolmentOut(otpauth_uri=await run_in_threadpool(command))


@router.post(
    "/totp/confirm", operation_id="confirm_totp_enrolment", response_model=RecoveryCodesOut
)
async def confirm_totp_enrolment(
    body: TotpConfirmIn, request: Request, context: ContextDep, user: AnyStaff
) -> RecoveryCodesOut:
    """Confirms the enrolment with a first code; this session becomes a full one."""
    token = session_token(request)[0] or ""
    policy = throttle.Policy.from_settings(context.settings)

    def command() -> list[str] | None:
        return staff_commands.do_confirm_totp_enrolment(
            context.platform,
            user=user,
            token=token,
            code=body.code,
            policy=policy,
            actor=staff_actor(request, user),
        )

    try:
        codes = await run_in_threadpool(command)
    except throttle.Locked as locked:
        raise HTTPException(429, "too many wrong codes; wait", {"Retry-After": "30"}) from locked
    if codes is None:
        raise HTTPException(422, "the code does not match; check the phone's clock and try again")
    return RecoveryCodesOut(recovery_codes=codes)
