"""The 112 app beyond the SOS: OTP registration, profile, live fixes, cancel and the duress PIN."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from ansim.api.app_signing import SignedInstall
from ansim.api.auth import ContextDep
from ansim.api.intake_app import to_fix
from ansim.api.schemas import Body, FixIn
from ansim.domain.errors import NotFound
from ansim.intake.numbers import normalize_number
from ansim.services import app_commands, incidents, people
from ansim.services.app_accounts import OTP_TTL, CodeCheck, PinVerdict, RateLimited
from ansim.services.app_commands import GuardianEntry
from ansim.services.cancel import do_cancel_with_pin, quiet_step, seen_by_person

router = APIRouter(prefix="/api/v1/app", tags=["112 app"])
PHONE = r"^[+0-9][0-9 \-]{6,24}$"
PIN = r"^\d{4,8}$"


class CodeRequestIn(Body):
    phone_number: str = Field(pattern=PHONE)
    client_id: str = Field(min_length=8, max_length=100, description="a random id the app keeps")


class CodeRequestOut(BaseModel):
    challenge_id: str
    expires_at: datetime


class VerifyIn(Body):
    challenge_id: str = Field(min_length=36, max_length=36)
    phone_number: str = Field(pattern=PHONE)
    code: str = Field(pattern=r"^\d{6}$")
    pin: str = Field(pattern=PIN)
    duress_pin: str = Field(pattern=PIN)
    name: str | None = Field(default=None, min_length=1, max_length=200)
    birth_year: int | None = Field(default=None, ge=1900, le=2100)


class InstallOut(BaseModel):
    credential: str = Field(
        description="`<install id>.<secret>`: the bearer credential and signing secret"
    )
    subscriber_id: str


class GuardianIn(Body):
    name: str = Field(min_length=1, max_length=200)
    phone: str = Field(pattern=PHONE)
    relation: str = Field(min_length=1, max_length=50)
    language: str | None = Field(
        default=None, max_length=8, description="ko or en; default: as the phone number suggests"
    )


class ProfileIn(Body):
    name: str = Field(min_length=1, max_length=200)
    birth_year: int = Field(ge=1900, le=2100)
    notes: str = Field(default="", max_length=2000)
    guardians: list[GuardianIn] = Field(default_factory=list, max_length=5)


class ProfileOut(BaseModel):
    subscriber_id: str
    name: str
    birth_year: int
    notes: str
    guardians: list[GuardianIn]


class FixBatchIn(Body):
    fixes: list[FixIn] = Field(min_length=1, max_length=100)


class FixBatchOut(BaseModel):
    stored: int


class CancelIn(Body):
    pin: str = Field(pattern=PIN)


class PersonViewOut(BaseModel):
    incident_id: str
    status: str = Field(description="active, cancelled or closed: all the person's device may know")
    step: str = Field(
        default="received",
        description="the calm status: received, help_coming, on_scene, cancelled or closed",
    )
    eta_s: float | None = Field(default=None, description="seconds until help arrives, if coming")


@router.post(
    "/register", operation_id="app_request_code", status_code=202, response_model=CodeRequestOut
)
async def app_request_code(body: CodeRequestIn, context: ContextDep) -> CodeRequestOut:
    """Sends a 6-digit code by SMS to the number (valid 5 minutes; rate-limited)."""
    now = context.now()
    number = normalize_number(body.phone_number)

    def request() -> str:
        return app_commands.do_request_code(
            context.platform, phone_number=number, client_id=body.client_id
        )

    try:
        challenge_id = await run_in_threadpool(request)
    except RateLimited as err:
        raise HTTPException(429, str(err), {"Retry-After": "900"}) from None
    return CodeRequestOut(challenge_id=challenge_id, expires_at=now + OTP_TTL)


@router.post(
    "/register/verify", operation_id="app_verify_code", status_code=201, response_model=InstallOut
)
async def app_verify_code(body: VerifyIn, context: ContextDep) -> InstallOut:
    """Checks the code and gives this install its credential; sets the cancel and duress PINs."""
    number = normalize_number(body.phone_number)

    def check() -> CodeCheck:
        return app_commands.do_check_code(
            context.platform, challenge_id=body.challenge_id, phone_number=number, code=body.code
        )

    verdict = await run_in_threadpool(check)
    if verdict is CodeCheck.EXHAUSTED:
        raise HTTPException(429, "too many wrong codes; ask for a new one")
    if verdict is CodeCheck.EXPIRED:
        raise HTTPException(410, "the code expired or was used; ask for a new one")
    if verdict is CodeCheck.WRONG:
        raise HTTPException(403, "wrong code")

    def register() -> tuple[str, str]:
        return app_commands.do_register_install(
            context.platform,
            phone_number=number,
            name=body.name,
            birth_year=body.birth_year,
            pin=body.pin,
            duress_pin=body.duress_pin,
        )

    subscriber_id, credential = await run_in_threadpool(register)
    return InstallOut(credential=credential, subscriber_id=subscriber_id)


def _profile(context: ContextDep, subscriber_id: str) -> ProfileOut:
    with context.uow.read() as session:
        person = people.get_subscriber(session, subscriber_id=subscriber_id)
        kin = people.guardians_of(session, subscriber_id=subscriber_id)
        return ProfileOut(
            subscriber_id=person.id,
            name=person.name,
            birth_year=person.birth_year,
            notes=person.notes,
            guardians=[
                GuardianIn(name=g.name, phone=g.phone, relation=g.relation, language=g.language)
                for g in kin
            ],
        )


@router.get("/profile", operation_id="app_get_profile", response_model=ProfileOut)
async def app_get_profile(install: SignedInstall, context: ContextDep) -> ProfileOut:
    """The person this install belongs to, and their guardians."""
    return await run_in_threadpool(_profile, context, install.subscriber_id)


@router.put("/profile", operation_id="app_update_profile", response_model=ProfileOut)
async def app_update_profile(
    body: ProfileIn, install: SignedInstall, context: ContextDep
) -> ProfileOut:
    """Replaces the person's details and guardians (in call order)."""

    def update() -> None:
        app_commands.do_update_profile(
            context.platform,
            subscriber_id=install.subscriber_id,
            name=body.name,
            birth_year=body.birth_year,
            notes=body.notes,
            guardians=[
                GuardianEntry(
                    name=g.name,
                    phone=normalize_number(g.phone),
                    relation=g.relation,
                    language=g.language,
                )
                for g in body.guardians
            ],
        )

    await run_in_threadpool(update)
    return await run_in_threadpool(_profile, context, install.subscriber_id)


@router.post(
    "/incidents/{incident_id}/fixes", operation_id="app_upload_fixes", response_model=FixBatchOut
)
async def app_upload_fixes(
    incident_id: str, body: FixBatchIn, install: SignedInstall, context: ContextDep
) -> FixBatchOut:
    """Stores a batch of live fixes (any order) for the person's open incident: one estimate update."""
    now = context.now()
    source = f"app:{install.address}"
    fixes = [to_fix(fix, source=source, default_time=now) for fix in body.fixes]

    def store() -> int:
        try:
            return app_commands.do_add_person_fixes(
                context.platform,
                incident_id=incident_id,
                subscriber_id=install.subscriber_id,
                fixes=fixes,
            )
        except NotFound:
            raise HTTPException(404, f"no incident {incident_id}") from None

    return FixBatchOut(stored=await run_in_threadpool(store))


@router.post(
    "/incidents/{incident_id}/cancel", operation_id="app_cancel_sos", response_model=PersonViewOut
)
async def app_cancel_sos(
    incident_id: str, body: CancelIn, install: SignedInstall, context: ContextDep
) -> PersonViewOut:
    """Cancels with the PIN; the duress PIN answers the same "cancelled" and escalates silently."""
    verdict = await run_in_threadpool(
        lambda: do_cancel_with_pin(
            context.platform,
            incident_id=incident_id,
            subscriber_id=install.subscriber_id,
            pin=body.pin,
            actor=f"app:{install.address}",
        )
    )
    if verdict is PinVerdict.WRONG:
        raise HTTPException(403, "wrong PIN; the SOS stays active")
    # Either correct PIN, in every state, answers alike (the person may be forced to cancel).
    return PersonViewOut(incident_id=incident_id, status="cancelled", step="cancelled")


@router.get(
    "/incidents/{incident_id}", operation_id="app_get_sos_status", response_model=PersonViewOut
)
async def app_get_sos_status(
    incident_id: str, install: SignedInstall, context: ContextDep
) -> PersonViewOut:
    """What the person's own device may show about their SOS."""

    def read() -> PersonViewOut:
        with context.uow.read() as session:
            incident = incidents.get(session, incident_id=incident_id)
            if incident.subscriber_id != install.subscriber_id:
                raise HTTPException(404, f"no incident {incident_id}")
            step, eta_s = quiet_step(session, incident=incident, now=context.now())
            return PersonViewOut(
                incident_id=incident.id,
                status=seen_by_person(
                    incident.status,
                    duress=incident.duress,
                    person_cancelled=incident.person_cancelled,
                ),
                step=step,
                eta_s=eta_s,
            )

    return await run_in_threadpool(read)
