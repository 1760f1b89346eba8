"""Revocation over HTTP (admins): app installs, terminals, carriers (and a carrier's secret).
Each call is one `do_*` command of services.revocation, the same the CLI calls."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from ansim.api.auth import ContextDep, require_staff, staff_actor
from ansim.domain.staff import Role, StaffUser
from ansim.services import revocation

router = APIRouter(prefix="/api/v1/admin", tags=["revocation"])
AdminUser = Annotated[StaffUser, Depends(require_staff(Role.ADMIN))]


class DisabledIn(BaseModel):
    disabled: bool


class RevokedInstallsOut(BaseModel):
    revoked: list[str]


class CarrierSecretOut(BaseModel):
    carrier_id: str
    secret: str


@router.put(
    "/terminals/{terminal_id}/disabled", operation_id="admin_disable_terminal", status_code=204
)
async def disable_terminal(
    terminal_id: str, body: DisabledIn, request: Request, context: ContextDep, user: AdminUser
) -> None:
    """Refuses (or accepts again) a terminal's messages: a lost or stolen device."""
    await run_in_threadpool(
        lambda: revocation.do_set_terminal_disabled(
            context.platform,
            terminal_id=terminal_id,
            disabled=body.disabled,
            actor=staff_actor(request, user),
        )
    )


@router.put(
    "/carriers/{carrier_id}/disabled", operation_id="admin_disable_carrier", status_code=204
)
async def disable_carrier(
    carrier_id: str, body: DisabledIn, request: Request, context: ContextDep, user: AdminUser
) -> None:
    """Refuses (or accepts again) a carrier's signed calls."""
    await run_in_threadpool(
        lambda: revocation.do_set_carrier_disabled(
            context.platform,
            carrier_id=carrier_id,
            disabled=body.disabled,
            actor=staff_actor(request, user),
        )
    )


@router.post(
    "/carriers/{carrier_id}/secret",
    operation_id="admin_rotate_carrier_secret",
    response_model=CarrierSecretOut,
)
async def rotate_carrier_secret(
    carrier_id: str, request: Request, context: ContextDep, user: AdminUser
) -> CarrierSecretOut:
    """A new shared secret for the carrier, shown once; the old one stops working at once."""
    secret = await run_in_threadpool(
        lambda: revocation.do_rotate_carrier_secret(
            context.platform, carrier_id=carrier_id, actor=staff_actor(request, user)
        )
    )
    return CarrierSecretOut(carrier_id=carrier_id, secret=secret)


@router.delete(
    "/people/{subscriber_id}/app-installs",
    operation_id="admin_revoke_app_installs",
    response_model=RevokedInstallsOut,
)
async def revoke_app_installs(
    subscriber_id: str, request: Request, context: ContextDep, user: AdminUser
) -> RevokedInstallsOut:
    """Revokes every 112 app install of a person."""
    revoked = await run_in_threadpool(
        lambda: revocation.do_revoke_app_installs(
            context.platform, subscriber_id=subscriber_id, actor=staff_actor(request, user)
        )
    )
    return RevokedInstallsOut(revoked=revoked)
