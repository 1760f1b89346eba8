"""Who is calling: staff sessions (cookie with CSRF double-submit, or bearer), app installs.

`enforce_access` runs on every route and applies the role matrix in `ansim.security.access`.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Callable, Sequence
from typing import Annotated

from fastapi import Depends, HTTPException, Request, WebSocket
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from ansim.api.context import AppContext
from ansim.domain.people import ChannelBinding
from ansim.domain.staff import Role, StaffUser
from ansim.security import access, audit
from ansim.services import people, staff
from ansim.settings import IPNetwork

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


async def _context(request: Request) -> AppContext:
    # async: FastAPI runs a plain `def` dependency in the thread pool, a hop on every request.
    return get_context(request)


ContextDep = Annotated[AppContext, Depends(_context)]


def bearer_token(header: str | None) -> str | None:
    if header and header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return None


def client_ip(connection: HTTPConnection) -> str:
    """The real client's address: behind a trusted proxy, the last untrusted X-Forwarded-For hop."""
    peer = connection.client.host if connection.client else ""
    context: AppContext | None = getattr(connection.app.state, "context", None)
    trusted = context.settings.trusted_proxy_networks() if context is not None else ()
    return real_client(peer, connection.headers.get("x-forwarded-for", ""), trusted)


def real_client(peer: str, forwarded_for: str, trusted: Sequence[IPNetwork]) -> str:
    """Walks X-Forwarded-For from the right, past our own proxies; a spoofed left part is ignored."""
    if not _within(peer, trusted):
        return peer
    for hop in reversed([h.strip() for h in forwarded_for.split(",") if h.strip()]):
        if not _within(hop, trusted):
            return hop
    return peer


def _within(address: str, networks: Sequence[IPNetwork]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def staff_actor(connection: HTTPConnection, user: StaffUser) -> audit.Actor:
    """Who a staff command's audit entry names: the user, their role and their address."""
    return audit.Actor(name=user.username, role=user.role.value, ip=client_ip(connection))


def session_token(connection: HTTPConnection) -> tuple[str | None, bool]:
    """The staff session token and whether it came in a cookie (then changes need the CSRF header)."""
    token = bearer_token(connection.headers.get("authorization"))
    if token is not None:
        return token, False
    return connection.cookies.get(SESSION_COOKIE), True


def operation_of(connection: HTTPConnection) -> str:
    route = connection.scope.get("route")
    if isinstance(route, APIRoute):
        return route.operation_id or route.name
    return getattr(route, "name", "") or ""


def _staff_from(context: AppContext, token: str | None) -> tuple[StaffUser, bool] | None:
    if not token:
        return None
    with context.uow.read() as session:
        return staff.authenticate_session(session, token=token, at=context.now())


def authenticated_staff(request: Request) -> StaffUser:
    """The live staff session's user (once per request), or 401; cookie changes need the CSRF token."""
    cached: StaffUser | None = getattr(request.state, "staff_user", None)
    if cached is not None:
        return cached
    context = get_context(request)
    token, via_cookie = session_token(request)
    found = _staff_from(context, token)
    if found is None:
        raise HTTPException(
            401, "log in first: no valid staff session", {"WWW-Authenticate": "Bearer"}
        )
    user, enrolment_only = found
    if via_cookie and request.method not in _SAFE_METHODS:
        sent, expected = request.headers.get(CSRF_HEADER, ""), request.cookies.get(CSRF_COOKIE, "")
        if not expected or not hmac.compare_digest(sent, expected):
            raise HTTPException(403, "missing or wrong CSRF token header")
    if enrolment_only and operation_of(request) not in access.ENROLMENT_OPERATIONS:
        raise HTTPException(403, "enrol a second factor (TOTP) before anything else")
    request.state.staff_user = user
    return user


async def enforce_access(connection: HTTPConnection) -> None:
    """Applies the role matrix to the matched route; a route without a rule is refused.

    Only a staff route reads the database (in the thread pool); the others cost no thread hop.
    """
    if connection.scope["type"] != "http":
        return  # WebSockets check their session when they accept
    operation = operation_of(connection)
    rule = access.rule_for(operation)
    if rule is None:
        raise HTTPException(403, f"no access rule for {operation} in ansim.security.access")
    if not access.staff_only(rule):
        return  # device, carrier, guardian and public routes authenticate in their own dependency
    assert isinstance(connection, Request)
    user = await run_in_threadpool(authenticated_staff, connection)
    if not access.admits(rule, user.role):
        raise HTTPException(403, f"role {user.role} may not do this")


def require_staff(*roles: Role) -> Callable[[Request], StaffUser]:
    """A dependency admitting a live staff session of one of `roles` (and of the route's rule)."""
    allowed = frozenset(roles)

    def dependency(request: Request) -> StaffUser:
        user = authenticated_staff(request)
        rule = access.rule_for(operation_of(request))
        if user.role not in allowed or rule is None or not access.admits(rule, user.role):
            raise HTTPException(403, f"role {user.role} may not do this")
        return user

    return dependency


def staff_for_websocket(websocket: WebSocket, *roles: Role) -> StaffUser | None:
    context: AppContext = websocket.app.state.context
    token, _via_cookie = session_token(websocket)
    found = _staff_from(context, token)
    if found is None or found[1]:
        return None
    user = found[0]
    return user if user.role in roles else None


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
