"""Stations and units over HTTP (admins): CSV imports with a rejected-rows report, and retirement.
Each call is one `do_*` command of services.fleet, the same the CLI (`ansim import stations|units`,
`ansim admin retire-unit|retire-station`) calls."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from ansim.api.auth import ContextDep, require_staff, staff_actor
from ansim.api.intake_common import read_body
from ansim.domain.staff import Role, StaffUser
from ansim.services import fleet

router = APIRouter(prefix="/api/v1/admin/fleet", tags=["fleet administration"])
AdminUser = Annotated[StaffUser, Depends(require_staff(Role.ADMIN))]
MAX_CSV_BYTES = 4 * 1024 * 1024


class RejectedOut(BaseModel):
    line: int
    reason: str
    row: str


class ImportReportOut(BaseModel):
    source: str
    layout: str
    read: int
    added: int
    updated: int
    unchanged: int
    rejected: list[RejectedOut]


class RetiredOut(BaseModel):
    name: str
    retired_at: str


def _report(report: fleet.ImportReport) -> ImportReportOut:
    return ImportReportOut(
        source=report.source,
        layout=report.layout,
        read=report.read,
        added=report.added,
        updated=report.updated,
        unchanged=report.unchanged,
        rejected=[RejectedOut(line=r.line, reason=r.reason, row=r.text) for r in report.rejected],
    )


async def _csv_text(request: Request) -> str:
    raw = await read_body(request, limit=MAX_CSV_BYTES)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp949", errors="replace")


@router.post(
    "/stations/import", operation_id="admin_import_stations", response_model=ImportReportOut
)
async def import_stations(
    request: Request, context: ContextDep, user: AdminUser
) -> ImportReportOut:
    """Adds or updates stations from a police facility CSV (geocoded list, official address list,
    or name,kind,lat,lon,district); idempotent; every rejected row is reported."""
    text = await _csv_text(request)
    source = request.headers.get("x-file-name", "upload.csv")
    report = await run_in_threadpool(
        lambda: fleet.do_import_stations(
            context.platform, text=text, source=source, actor=staff_actor(request, user)
        )
    )
    return _report(report)


@router.post("/units/import", operation_id="admin_import_units", response_model=ImportReportOut)
async def import_units(request: Request, context: ContextDep, user: AdminUser) -> ImportReportOut:
    """Adds or updates units from `call_sign,station,kind` rows (kind: patrol_car or foot)."""
    text = await _csv_text(request)
    source = request.headers.get("x-file-name", "upload.csv")
    report = await run_in_threadpool(
        lambda: fleet.do_import_units(
            context.platform, text=text, source=source, actor=staff_actor(request, user)
        )
    )
    return _report(report)


@router.post(
    "/units/{call_sign}/retire", operation_id="admin_retire_unit", response_model=RetiredOut
)
async def retire_unit(
    call_sign: str, request: Request, context: ContextDep, user: AdminUser
) -> RetiredOut:
    """Takes a unit off duty for good; it is never ranked again, its history stays."""
    unit = await run_in_threadpool(
        lambda: fleet.do_retire_unit(
            context.platform, call_sign=call_sign, actor=staff_actor(request, user)
        )
    )
    return RetiredOut(
        name=unit.call_sign, retired_at=unit.retired_at.isoformat() if unit.retired_at else ""
    )


@router.post(
    "/stations/{name}/retire", operation_id="admin_retire_station", response_model=RetiredOut
)
async def retire_station(
    name: str, request: Request, context: ContextDep, user: AdminUser
) -> RetiredOut:
    """Retires a station that has no units left; its history stays."""
    station = await run_in_threadpool(
        lambda: fleet.do_retire_station(
            context.platform, name=name, actor=staff_actor(request, user)
        )
    )
    return RetiredOut(
        name=station.name, retired_at=station.retired_at.isoformat() if station.retired_at else ""
    )
