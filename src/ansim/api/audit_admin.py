"""The audit trail over HTTP: admins search it; routes record reads of personal data through here."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AwareDatetime, BaseModel
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from ansim.api.auth import ContextDep, client_ip, require_staff
from ansim.api.context import AppContext
from ansim.domain.staff import Role, StaffUser
from ansim.security import audit

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


class AuditEntryOut(BaseModel):
    id: int
    at: datetime
    actor: str
    role: str
    action: str
    ip: str
    incident_id: str | None
    subject: str
    detail: dict[str, Any]
    hash: str


def actor_of(request: Request, user: StaffUser) -> audit.Actor:
    return audit.Actor(name=user.username, role=user.role.value, ip=client_ip(request))


def record_read(
    context: AppContext,
    request: Request,
    user: StaffUser,
    *,
    action: str,
    incident_id: str | None = None,
    subject: str = "",
    detail: dict[str, Any] | None = None,
) -> None:
    """Records a look at personal data in its own transaction, before the data is returned."""
    with audited_command(
        context,
        request,
        user,
        action=action,
        incident_id=incident_id,
        subject=subject,
        detail=detail,
    ):
        pass  # the look itself is what is recorded


@contextmanager
def audited_command(
    context: AppContext,
    request: Request,
    user: StaffUser,
    *,
    action: str,
    incident_id: str | None = None,
    subject: str = "",
    detail: dict[str, Any] | None = None,
) -> Iterator[Session]:
    """A staff command's transaction: the change and its audit entry commit together or not at all."""
    with context.uow.begin() as session:
        yield session
        audit.record(
            session,
            actor=actor_of(request, user),
            action=action,
            at=context.now(),
            incident_id=incident_id,
            subject=subject,
            detail=detail,
        )


AdminUser = Annotated[StaffUser, Depends(require_staff(Role.ADMIN))]


@router.get("", operation_id="search_audit_log", response_model=list[AuditEntryOut])
async def search_audit_log(
    request: Request,
    context: ContextDep,
    user: AdminUser,
    actor: Annotated[str | None, Query(max_length=100)] = None,
    action: Annotated[str | None, Query(max_length=60)] = None,
    incident_id: Annotated[str | None, Query(max_length=100)] = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[AuditEntryOut]:
    """Audit entries matching every filter, newest first (the search itself is recorded)."""
    filters = {"actor": actor, "action": action, "incident_id": incident_id}

    def query() -> list[AuditEntryOut]:
        with context.uow.begin() as session:
            audit.record(
                session,
                actor=actor_of(request, user),
                action="audit.search",
                at=context.now(),
                detail={k: v for k, v in filters.items() if v is not None},
            )
            found = audit.search(
                session,
                actor=actor,
                action=action,
                incident_id=incident_id,
                since=since,
                until=until,
                limit=limit,
            )
            return [
                AuditEntryOut(
                    id=e.id,
                    at=e.at,
                    actor=e.actor,
                    role=e.role,
                    action=e.action,
                    ip=e.ip,
                    incident_id=e.incident_id,
                    subject=e.subject,
                    detail=e.detail,
                    hash=e.hash,
                )
                for e in found
            ]

    return await run_in_threadpool(query)
