"""A person's own 112 app installs: they see them in the app and revoke one (a lost old phone)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from ansim.api.app_signing import SignedInstall
from ansim.api.auth import ContextDep
from ansim.security import audit
from ansim.services import revocation

router = APIRouter(prefix="/api/v1/app", tags=["112 app"])


class InstallOut(BaseModel):
    install_id: str
    created_at: datetime
    this_install: bool


@router.get("/installs", operation_id="app_list_installs", response_model=list[InstallOut])
async def list_installs(install: SignedInstall, context: ContextDep) -> list[InstallOut]:
    """Every install of the person's app credential, oldest first; `this_install` marks the caller."""

    def query() -> list[InstallOut]:
        with context.uow.read() as session:
            views = revocation.list_app_installs(session, subscriber_id=install.subscriber_id)
        return [
            InstallOut(
                install_id=v.install_id,
                created_at=v.created_at,
                this_install=v.install_id == install.address,
            )
            for v in views
        ]

    return await run_in_threadpool(query)


@router.delete(
    "/installs/{install_id}", operation_id="app_revoke_install", response_model=list[str]
)
async def revoke_install(install_id: str, install: SignedInstall, context: ContextDep) -> list[str]:
    """Revokes one of the person's installs (their own included: signing out that phone)."""
    actor = audit.Actor(name=f"app:{install.address}", role="device")
    return await run_in_threadpool(
        lambda: revocation.do_revoke_app_installs(
            context.platform,
            subscriber_id=install.subscriber_id,
            install_id=install_id,
            actor=actor,
        )
    )
