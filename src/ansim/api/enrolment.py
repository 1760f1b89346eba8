"""Enrolment administration: people, guardians, one-touch numbers, terminals, carriers, CSV import."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from ansim.api.auth import ContextDep, require_staff, staff_actor
from ansim.api.intake_common import read_body
from ansim.api.schemas import Body, LocationServerIn
from ansim.domain.errors import InvalidInput
from ansim.domain.people import Subscriber
from ansim.domain.staff import Role, StaffUser
from ansim.domain.terminals import Terminal
from ansim.intake.held import LocationServer
from ansim.security.limits import LARGER_BODIES
from ansim.services import discards, enrolment, enrolment_commands, people, terminals
from ansim.services.enrolment import GuardianDraft, PersonDraft

router = APIRouter(prefix="/api/v1/admin", tags=["enrolment admin"])
pages = APIRouter(include_in_schema=False)
Admin = Annotated[StaffUser, Depends(require_staff(Role.ADMIN))]
STATIC = Path(__file__).resolve().parent.parent / "web" / "static" / "enrol"
MAX_CSV_BYTES = LARGER_BODIES["/api/v1/admin/people/import"]
PHONE = r"^[+0-9][0-9 \-]{6,24}$"


class GuardianIn(Body):
    name: str = Field(min_length=1, max_length=200)
    phone: str = Field(pattern=PHONE)
    relation: str = Field(min_length=1, max_length=50)
    email: str = Field(default="", max_length=200)
    language: str | None = Field(
        default=None,
        max_length=8,
        description="message language, ko or en; default: Korean for Korean numbers, else English",
    )


class PersonIn(Body):
    name: str = Field(min_length=1, max_length=200)
    birth_year: int = Field(ge=1900, le=2100)
    school: str = Field(default="", max_length=200)
    notes: str = Field(default="", max_length=2000)
    consent_at: datetime = Field(description="when the person or their parent consented")
    guardians: list[GuardianIn] = Field(default_factory=list, max_length=5)
    one_touch_numbers: list[str] = Field(default_factory=list, max_length=3)


class PersonEditIn(Body):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    birth_year: int | None = Field(default=None, ge=1900, le=2100)
    school: str | None = Field(default=None, max_length=200)
    notes: str | None = Field(default=None, max_length=2000)
    photo_url: str | None = Field(default=None, max_length=500)


class EnrolledPersonOut(BaseModel):
    id: str
    name: str
    birth_year: int
    school: str
    notes: str
    consent_at: datetime | None
    created_at: datetime


class TerminalIn(Body):
    terminal_id: str = Field(pattern=r"^[A-Za-z0-9_.-]{3,64}$")
    subscriber_id: str = Field(min_length=1, max_length=64)
    reporting_interval_s: int = Field(default=300, ge=10, le=86_400)


class TerminalEditIn(Body):
    reporting_interval_s: int = Field(ge=10, le=86_400)


class TerminalOut(BaseModel):
    terminal_id: str
    subscriber_id: str
    reporting_interval_s: int
    last_seen_at: datetime | None
    battery_pct: int | None
    low_battery: bool
    lost: bool
    config_version: int


class TerminalSecretOut(TerminalOut):
    secret: str = Field(description="shown once: write it into the device")


class CarrierIn(Body):
    carrier_id: str = Field(min_length=2, max_length=50)
    name: str = Field(min_length=1, max_length=200)
    # Its HELD location server, for re-locating its callers (settable later too).
    location_server: LocationServerIn | None = None


class CarrierSecretOut(BaseModel):
    carrier_id: str
    secret: str


class PersonDetailOut(BaseModel):
    person: EnrolledPersonOut
    guardians: list[GuardianIn]
    one_touch_numbers: list[str]
    terminals: list[TerminalOut]
    audit: list[dict[str, Any]]


class ImportOut(BaseModel):
    enrolled: int
    ids: list[str]


def _person_out(person: Subscriber) -> EnrolledPersonOut:
    return EnrolledPersonOut(
        id=person.id,
        name=person.name,
        birth_year=person.birth_year,
        school=person.school,
        notes=person.notes,
        consent_at=person.consent_at,
        created_at=person.created_at,
    )


def _terminal_out(terminal: Terminal) -> TerminalOut:
    return TerminalOut(
        terminal_id=terminal.id,
        subscriber_id=terminal.subscriber_id,
        reporting_interval_s=terminal.reporting_interval_s,
        last_seen_at=terminal.last_seen_at,
        battery_pct=terminal.battery_pct,
        low_battery=terminal.low_battery,
        lost=terminal.lost,
        config_version=terminal.config_version,
    )


def _detail(context: ContextDep, subscriber_id: str) -> PersonDetailOut:
    with context.uow.read() as session:
        person = people.get_subscriber(session, subscriber_id=subscriber_id)
        return PersonDetailOut(
            person=_person_out(person),
            guardians=[
                GuardianIn(
                    name=g.name,
                    phone=g.phone,
                    relation=g.relation,
                    email=g.email,
                    language=g.language,
                )
                for g in people.guardians_of(session, subscriber_id=subscriber_id)
            ],
            one_touch_numbers=enrolment.one_touch_numbers(session, subscriber_id=subscriber_id),
            terminals=[
                _terminal_out(t) for t in terminals.list_for(session, subscriber_id=subscriber_id)
            ],
            audit=[
                {**row, "at": row["at"].isoformat()}
                for row in enrolment.audit_of(session, subscriber_id=subscriber_id)
            ],
        )


@router.post(
    "/people", operation_id="admin_enrol_person", status_code=201, response_model=PersonDetailOut
)
async def admin_enrol_person(
    body: PersonIn, request: Request, context: ContextDep, user: Admin
) -> PersonDetailOut:
    """Enrols a person with guardians and one-touch numbers; consent and its date are required."""
    draft = PersonDraft(
        name=body.name,
        birth_year=body.birth_year,
        consent_at=body.consent_at,
        school=body.school,
        notes=body.notes,
        guardians=tuple(
            GuardianDraft(g.name, g.phone, g.relation, g.email, g.language or "")
            for g in body.guardians
        ),
        one_touch_numbers=tuple(body.one_touch_numbers),
    )

    def enrol() -> str:
        return enrolment_commands.do_enrol_person(
            context.platform, draft=draft, actor=staff_actor(request, user)
        ).id

    return await run_in_threadpool(_detail, context, await run_in_threadpool(enrol))


@router.get("/people", operation_id="admin_list_people", response_model=list[EnrolledPersonOut])
async def admin_list_people(
    context: ContextDep, user: Admin, school: str | None = None
) -> list[EnrolledPersonOut]:
    """Enrolled people by name (optionally one school's)."""

    return await context.read(
        lambda session: [_person_out(p) for p in enrolment.list_people(session, school=school)]
    )


@router.get(
    "/people/{subscriber_id}", operation_id="admin_get_person", response_model=PersonDetailOut
)
async def admin_get_person(subscriber_id: str, context: ContextDep, user: Admin) -> PersonDetailOut:
    """One person with guardians, numbers, terminals and the audit of every edit."""
    return await run_in_threadpool(_detail, context, subscriber_id)


@router.patch(
    "/people/{subscriber_id}", operation_id="admin_update_person", response_model=PersonDetailOut
)
async def admin_update_person(
    subscriber_id: str, body: PersonEditIn, request: Request, context: ContextDep, user: Admin
) -> PersonDetailOut:
    """Edits a person's details; the change is audited."""

    def update() -> None:
        enrolment_commands.do_update_person(
            context.platform,
            subscriber_id=subscriber_id,
            changes=body.model_dump(exclude_none=True),
            actor=staff_actor(request, user),
        )

    await run_in_threadpool(update)
    return await run_in_threadpool(_detail, context, subscriber_id)


@router.post(
    "/people/import", operation_id="admin_import_people", status_code=201, response_model=ImportOut
)
async def admin_import_people(request: Request, context: ContextDep, user: Admin) -> ImportOut:
    """Enrols a school's list from CSV (UTF-8, header row); all rows or none."""
    raw = await read_body(request, limit=MAX_CSV_BYTES)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("CSV must be UTF-8") from None

    def load() -> list[str]:
        return enrolment_commands.do_import_people(
            context.platform, text=text, actor=staff_actor(request, user)
        )

    ids = await run_in_threadpool(load)
    return ImportOut(enrolled=len(ids), ids=ids)


@router.post(
    "/terminals",
    operation_id="admin_enrol_terminal",
    status_code=201,
    response_model=TerminalSecretOut,
)
async def admin_enrol_terminal(
    body: TerminalIn, request: Request, context: ContextDep, user: Admin
) -> TerminalSecretOut:
    """Enrols a U-안심 terminal for a person; the answer holds its secret, shown only now."""

    def enrol() -> TerminalSecretOut:
        enrolled = enrolment_commands.do_enrol_terminal(
            context.platform,
            terminal_id=body.terminal_id,
            subscriber_id=body.subscriber_id,
            reporting_interval_s=body.reporting_interval_s,
            actor=staff_actor(request, user),
        )
        return TerminalSecretOut(
            **_terminal_out(enrolled.terminal).model_dump(), secret=enrolled.secret
        )

    return await run_in_threadpool(enrol)


@router.patch(
    "/terminals/{terminal_id}", operation_id="admin_update_terminal", response_model=TerminalOut
)
async def admin_update_terminal(
    terminal_id: str, body: TerminalEditIn, request: Request, context: ContextDep, user: Admin
) -> TerminalOut:
    """Changes a terminal's reporting interval; the device receives it as `config`."""

    def update() -> TerminalOut:
        terminal = enrolment_commands.do_update_terminal(
            context.platform,
            terminal_id=terminal_id,
            reporting_interval_s=body.reporting_interval_s,
            actor=staff_actor(request, user),
        )
        return _terminal_out(terminal)

    return await run_in_threadpool(update)


@router.get("/terminals", operation_id="admin_list_terminals", response_model=list[TerminalOut])
async def admin_list_terminals(context: ContextDep, user: Admin) -> list[TerminalOut]:
    """Every terminal with its supervision state (lost, low battery)."""

    return await context.read(
        lambda session: [_terminal_out(t) for t in terminals.list_for(session)]
    )


@router.post(
    "/carriers",
    operation_id="admin_register_carrier",
    status_code=201,
    response_model=CarrierSecretOut,
)
async def admin_register_carrier(
    body: CarrierIn, request: Request, context: ContextDep, user: Admin
) -> CarrierSecretOut:
    """Registers a carrier (its call gateway and SMS centre); the shared secret is shown only now."""

    def register() -> str:
        return enrolment_commands.do_register_carrier(
            context.platform,
            carrier_id=body.carrier_id,
            name=body.name,
            actor=staff_actor(request, user),
            location_server=LocationServer(lis.url, lis.username, lis.password)
            if (lis := body.location_server)
            else None,
        )

    return CarrierSecretOut(carrier_id=body.carrier_id, secret=await run_in_threadpool(register))


@router.get(
    "/intake/discards",
    operation_id="admin_intake_discards",
    response_model=dict[str, dict[str, int]],
)
async def admin_intake_discards(context: ContextDep, user: Admin) -> dict[str, dict[str, int]]:
    """How many messages each channel refused or dropped, by reason."""

    return await context.read(discards.counts)


@pages.get("/admin/enrol")
async def enrol_page() -> FileResponse:
    return FileResponse(STATIC / "index.html")
