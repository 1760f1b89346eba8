"""Stations and units over HTTP (admins): CSV imports with a rejected-rows report, per-row edits,
and retirement. Each change is one `do_*` command of services.fleet or services.fleet_edits (the
imports and retirement are the same commands the CLI, `ansim import stations|units` and
`ansim admin retire-unit|retire-station`, calls). The page at /admin/fleet lists and edits them."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from ansim.api.auth import ContextDep, require_staff, staff_actor
from ansim.api.intake_common import read_body
from ansim.domain.staff import Role, StaffUser
from ansim.domain.units import StationKind, UnitKind
from ansim.services import fleet, fleet_edits

router = APIRouter(prefix="/api/v1/admin/fleet", tags=["fleet administration"])
pages = APIRouter(tags=["pages"])
PAGE = Path(__file__).resolve().parent.parent / "web" / "static" / "admin" / "fleet.html"
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


class UnitOut(BaseModel):
    id: str
    call_sign: str
    kind: str
    station_id: str
    station: str
    district: str
    status: str
    retired_at: datetime | None


class StationOut(BaseModel):
    id: str
    name: str
    kind: str
    lat: float
    lon: float
    district: str
    units: int
    retired_at: datetime | None


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


def _unit_out(row: fleet_edits.UnitRow) -> UnitOut:
    return UnitOut(**row.__dict__)


def _station_out(row: fleet_edits.StationRow) -> StationOut:
    return StationOut(**row.__dict__)


@pages.get("/admin/fleet", operation_id="fleet_admin_page", include_in_schema=False)
async def fleet_page() -> FileResponse:
    return FileResponse(PAGE)


@router.get("/units", operation_id="admin_list_fleet_units", response_model=list[UnitOut])
async def list_units(context: ContextDep, _user: AdminUser) -> list[UnitOut]:
    """Every unit with its station, retired ones last."""

    def query() -> list[UnitOut]:
        with context.uow.read() as session:
            return [_unit_out(r) for r in fleet_edits.list_units(session)]

    return await run_in_threadpool(query)


@router.get("/stations", operation_id="admin_list_fleet_stations", response_model=list[StationOut])
async def list_stations(context: ContextDep, _user: AdminUser) -> list[StationOut]:
    """Every station with its number of units, retired ones last."""

    def query() -> list[StationOut]:
        with context.uow.read() as session:
            return [_station_out(r) for r in fleet_edits.list_stations(session)]

    return await run_in_threadpool(query)


@router.patch("/units/{call_sign}", operation_id="admin_edit_unit", response_model=UnitOut)
async def edit_unit(
    call_sign: str, body: UnitChangeIn, request: Request, context: ContextDep, user: AdminUser
) -> UnitOut:
    """Changes a unit's call sign, kind or station; the same unit row, so its history stays.
    409 when the call sign is another unit's (retired ones included) or the unit is retired."""
    change = fleet_edits.UnitChange(call_sign=body.call_sign, kind=body.kind, station=body.station)

    def edit() -> UnitOut:
        unit = fleet_edits.do_edit_unit(
            context.platform, call_sign=call_sign, change=change, actor=staff_actor(request, user)
        )
        with context.uow.read() as session:
            return _unit_out(fleet_edits.list_units(session, unit_id=unit.id)[0])

    return await run_in_threadpool(edit)


@router.patch("/stations/{name}", operation_id="admin_edit_station", response_model=StationOut)
async def edit_station(
    name: str, body: StationChangeIn, request: Request, context: ContextDep, user: AdminUser
) -> StationOut:
    """Changes a station's name, kind, position or district (`name` may be "강남구 신사파출소").
    409 when its district already has a station of the new name or the station is retired."""
    change = fleet_edits.StationChange(
        name=body.name, kind=body.kind, lat=body.lat, lon=body.lon, district=body.district
    )

    def edit() -> StationOut:
        station = fleet_edits.do_edit_station(
            context.platform, name=name, change=change, actor=staff_actor(request, user)
        )
        with context.uow.read() as session:
            return _station_out(fleet_edits.list_stations(session, station_id=station.id)[0])

    return await run_in_threadpool(edit)
