"""Staff login and logout."""

from __future__ import annotations

import secrets
from datetime import timedelta

from fastapi import APIRouter, HTTPException, Request, Response
from starlette.concurrency import run_in_threadpool

from ansim.api.auth import CSRF_COOKIE, SESSION_COOKIE, AnyStaff, ContextDep, bearer_token
from ansim.api.schemas import LoginIn, LoginOut, StaffOut
from ansim.domain.staff import StaffUser
from ansim.services import staff

router = APIRouter(prefix="/api/v1/session", tags=["staff session"])


def staff_out(user: StaffUser) -> StaffOut:
    return StaffOut(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=user.role,
        unit_id=user.unit_id,
    )


@router.post("", operation_id="log_in", response_model=LoginOut)
async def log_in(body: LoginIn, context: ContextDep, response: Response) -> LoginOut:
    """Opens a staff session: an HttpOnly cookie for the browser (with a CSRF token) and a bearer token."""

    def command() -> tuple[StaffUser, str] | None:
        with context.uow.begin() as session:
            return staff.login(
                session,
                username=body.username,
                password=body.password,
                at=context.now(),
                lifetime=timedelta(hours=context.settings.session_hours),
            )

    result = await run_in_threadpool(command)
    if result is None:
        raise HTTPException(401, "wrong user name or password")
    user, token = result
    csrf = secrets.token_urlsafe(24)
    max_age = int(context.settings.session_hours * 3600)
    secure = context.settings.cookie_secure
    response.set_cookie(
        SESSION_COOKIE, token, max_age=max_age, httponly=True, samesite="strict", secure=secure
    )
    response.set_cookie(
        CSRF_COOKIE, csrf, max_age=max_age, httponly=False, samesite="strict", secure=secure
    )
    return LoginOut(token=token, csrf_token=csrf, user=staff_out(user))


@router.get("", operation_id="who_am_i", response_model=StaffOut)
async def who_am_i(user: AnyStaff) -> StaffOut:
    """The staff member this session belongs to."""
    return staff_out(user)


@router.delete("", operation_id="log_out", status_code=204)
async def log_out(request: Request, context: ContextDep, _user: AnyStaff) -> Response:
    """Revokes this session."""
    token = bearer_token(request.headers.get("authorization")) or request.cookies.get(
        SESSION_COOKIE, ""
    )

    def command() -> None:
        with context.uow.begin() as session:
            staff.logout(session, token=token)

    await run_in_threadpool(command)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE)
    response.delete_cookie(CSRF_COOKIE)
    return response
