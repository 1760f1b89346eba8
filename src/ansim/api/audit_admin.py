"""The audit trail over HTTP: admins search it (the search itself is recorded)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AwareDatetime, BaseModel
from starlette.concurrency import run_in_threadpool

from ansim.api.auth import ContextDep, require_staff, staff_actor
from ansim.domain.staff import Role, StaffUser
from ansim.services import audit_trail

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

    def query() -> list[AuditEntryOut]:
        found = audit_trail.do_search_audit_log(
            context.platform,
            actor=staff_actor(request, user),
            who=actor,
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
