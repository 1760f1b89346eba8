"""Who is calling: staff sessions (cookie with CSRF double-submit, or bearer), app installs."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request, WebSocket

from ansim.api.context import AppContext
from ansim.domain.people import ChannelBinding
from ansim.domain.staff import Role, StaffUser
from ansim.services import people, staff

SESSION_COOKIE = "ansim_session"
CSRF_COOKIE = "ansim_csrf"
CSRF_HEADER = "x-csrf-token"
_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}

CONSOLE_ROLES = frozenset({Role.DISPATCHER, Role.SUPERVISOR, Role.ADMIN})
FIELD_ROLES = CONSOLE_ROLES | {Role.OFFICER}
STAFF_ROLES = frozenset(Role)


def get_context(request: Request) -> AppContext:
    context: AppContext = request.app.state.context
    return context


ContextDep = Annotated[AppContext, Depends(get_context)]


def bearer_token(header: str | None) -> str | None:
    if header and header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return None


def _staff_from(context: AppContext, token: str | None) -> StaffUser | None:
    if not token:
        return None
    with context.uow.read() as session:
        return staff.authenticate(session, token=token, at=context.now())


def require_staff(*roles: Role) -> Callable[[Request], StaffUser]:
    """A dependency admitting a live staff session of one of `roles`."""
    allowed = frozenset(roles)

    def dependency(request: Request) -> StaffUser:
        context = get_context(request)
        token = bearer_token(request.headers.get("authorization"))
        via_cookie = token is None
        if via_cookie:
            token = request.cookies.get(SESSION_COOKIE)
        user = _staff_from(context, token)
        if user is None:
            raise HTTPException(
                401, "log in first: no valid staff session", {"WWW-Authenticate": "Bearer"}
            )
        if via_cookie and request.method not in _SAFE_METHODS:
            sent, expected = (
                request.headers.get(CSRF_HEADER, ""),
                request.cookies.get(CSRF_COOKIE, ""),
            )
            if not expected or not hmac.compare_digest(sent, expected):
                raise HTTPException(403, "missing or wrong CSRF token header")
        if user.role not in allowed:
            raise HTTPException(403, f"role {user.role} may not do this")
        return user

    return dependency


def staff_for_websocket(websocket: WebSocket, *roles: Role) -> StaffUser | None:
    context: AppContext = websocket.app.state.context
    token = bearer_token(websocket.headers.get("authorization")) or websocket.cookies.get(
        SESSION_COOKIE
    )
    user = _staff_from(context, token)
    return user if user is not None and user.role in roles else None


def require_app_install(request: Request) -> ChannelBinding:
    """The 112 app install whose credential signs this request."""
    context = get_context(request)
    credential = bearer_token(request.headers.get("authorization"))
    if credential is None:
        raise HTTPException(
            401, "app credential missing (Authorization: Bearer <install>.<secret>)"
        )
    with context.uow.read() as session:
        install = people.app_install(session, credential=credential)
    if install is None:
        raise HTTPException(401, "unknown app install or wrong credential")
    return install


ConsoleUser = Annotated[StaffUser, Depends(require_staff(*CONSOLE_ROLES))]
FieldUser = Annotated[StaffUser, Depends(require_staff(*FIELD_ROLES))]
AnyStaff = Annotated[StaffUser, Depends(require_staff(*STAFF_ROLES))]
AppInstall = Annotated[ChannelBinding, Depends(require_app_install)]
