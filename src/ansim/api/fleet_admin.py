"""Stations and units over HTTP (admins): CSV imports with a rejected-rows report, per-row edits,
and retirement. Each change is one `do_*` command of services.fleet or services.fleet_edits (the
imports and retirement are the same commands the CLI, `ansim import stations|units` and
`ansim admin retire-unit|retire-station`, calls). The page at /admin/fleet lists and edits them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from ansim.api.auth import ContextDep, require_staff, staff_actor
from ansim.api.context import AppContext
from ansim.api.intake_common import read_body
from ansim.domain.staff import Role, StaffUser
from ansim.domain.units import StationKind, UnitKind
from ansim.services import fleet, fleet_edits

router = APIRouter(prefix="/api/v1/admin/fleet", tags=["fleet administration"])
pages = APIRouter(tags=["pages"])
PAGE = Path(__file__).resolve().parent.parent / "web" / "static" / "admin" / "fleet.html"
AdminUser = Annotated[StaffUser, Depends(require_staff(Role.ADMIN))]
MAX_CSV_BYTES = 4 * 1024 * 1024
Row = TypeVar("Row")
Edited = TypeVar("Edited")
# An import command with its platform bound: do_import_stations or do_import_units.
ImportCommand = Callable[..., fleet.ImportReport]


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


async def _import(request: Request, user: StaffUser, command: ImportCommand) -> ImportReportOut:
    """Reads the uploaded CSV and runs one import command on it (stations or units)."""
    text = await _csv_text(request)
    source = request.headers.get("x-file-name", "upload.csv")
    actor = staff_actor(request, user)
    report = await run_in_threadpool(lambda: command(text=text, source=source, actor=actor))
    return _report(report)


@router.post(
    "/stations/import", operation_id="admin_import_stations", response_model=ImportReportOut
)
async def import_stations(
    request: Request, context: ContextDep, user: AdminUser
) -> ImportReportOut:
    """Adds or updates stations from a police facility CSV (geocoded list, official address list,
    or name,kind,lat,lon,district); idempotent; every rejected row is reported."""
    return await _import(request, user, partial(fleet.do_import_stations, context.platform))


@router.post("/units/import", operation_id="admin_import_units", response_model=ImportReportOut)
async def import_units(request: Request, context: ContextDep, user: AdminUser) -> ImportReportOut:
    """Adds or updates units from `call_sign,station,kind` rows (kind: patrol_car or foot)."""
    return await _import(request, user, partial(fleet.do_import_units, context.platform))


def _retired(name: str, at: datetime | None) -> RetiredOut:
    return RetiredOut(name=name, retired_at=at.isoformat() if at else "")


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
    return _retired(unit.call_sign, unit.retired_at)


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
    return _retired(station.name, station.retired_at)


class UnitChangeIn(BaseModel):
    """Fields left out stay as they are."""

    model_config = ConfigDict(extra="forbid")
    call_sign: str | None = Field(default=None, min_length=1, max_length=50)
    kind: UnitKind | None = None
    station: str | None = Field(
        default=None,
        min_length=1,
        max_length=150,
        description='a station name; "강남구 신사파출소" where two share it',
    )


class StationChangeIn(BaseModel):
    """Fields left out stay as they are; lat and lon go together."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=100)
    kind: StationKind | None = None
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    district: str | None = Field(default=None, min_length=1, max_length=50)


@pages.get("/admin/fleet", operation_id="fleet_admin_page", include_in_schema=False)
async def fleet_page() -> FileResponse:
    return FileResponse(PAGE)


async def _edit(
    context: AppContext, command: Callable[[], Edited], row: Callable[[Session, Edited], Row]
) -> Row:
    """Runs one edit command, then reads the edited unit or station back as the list shows it."""

    def edit() -> Row:
        edited = command()
        with context.uow.read() as session:
            return row(session, edited)

    return await run_in_threadpool(edit)


@router.get(
    "/units", operation_id="admin_list_fleet_units", response_model=list[fleet_edits.UnitRow]
)
async def list_units(context: ContextDep, _user: AdminUser) -> list[fleet_edits.UnitRow]:
    """Every unit with its station, retired ones last."""
    return await context.read(fleet_edits.list_units)


@router.get(
    "/stations",
    operation_id="admin_list_fleet_stations",
    response_model=list[fleet_edits.StationRow],
)
async def list_stations(context: ContextDep, _user: AdminUser) -> list[fleet_edits.StationRow]:
    """Every station with its number of units, retired ones last."""
    return await context.read(fleet_edits.list_stations)


@router.patch(
    "/units/{call_sign}", operation_id="admin_edit_unit", response_model=fleet_edits.UnitRow
)
async def edit_unit(
    call_sign: str, body: UnitChangeIn, request: Request, context: ContextDep, user: AdminUser
) -> fleet_edits.UnitRow:
    """Changes a unit's call sign, kind or station; the same unit row, so its history stays.
    409 when the call sign is another unit's (retired ones included) or the unit is retired."""
    change = fleet_edits.UnitChange(call_sign=body.call_sign, kind=body.kind, station=body.station)
    actor = staff_actor(request, user)
    return await _edit(
        context,
        partial(
            fleet_edits.do_edit_unit,
            context.platform,
            call_sign=call_sign,
            change=change,
            actor=actor,
        ),
        lambda session, unit: fleet_edits.list_units(session, unit_id=unit.id)[0],
    )


@router.patch(
    "/stations/{name}", operation_id="admin_edit_station", response_model=fleet_edits.StationRow
)
async def edit_station(
    name: str, body: StationChangeIn, request: Request, context: ContextDep, user: AdminUser
) -> fleet_edits.StationRow:
    """Changes a station's name, kind, position or district (`name` may be "강남구 신사파출소").
    409 when its district already has a station of the new name or the station is retired."""
    change = fleet_edits.StationChange(
        name=body.name, kind=body.kind, lat=body.lat, lon=body.lon, district=body.district
    )
    actor = staff_actor(request, user)
    return await _edit(
        context,
        partial(
            fleet_edits.do_edit_station, context.platform, name=name, change=change, actor=actor
        ),
        lambda session, station: fleet_edits.list_stations(session, station_id=station.id)[0],
    )
