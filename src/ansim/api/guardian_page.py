"""The guardian page (/g/{token}) and its API: live location and one answer per link, no login."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, ConfigDict
from starlette.concurrency import run_in_threadpool

from ansim.api import views
from ansim.api.auth import ContextDep
from ansim.api.context import AppContext
from ansim.api.schemas import PlaceOut
from ansim.domain.errors import Conflict, DomainError
from ansim.domain.guardian_links import LinkExpired
from ansim.domain.verification import Answer
from ansim.services import guardian_page, verification_commands
from ansim.services.guardian_page import GuardianView

router = APIRouter(tags=["guardian page"])
PAGE = Path(__file__).resolve().parent.parent / "web" / "static" / "guardian"
# The token is the secret: no referrer may carry it off, no cache may keep the page.
_PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


class GuardianAnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    answer: Literal["safe", "danger"]


class GuardianLocationOut(BaseModel):
    lat: float
    lon: float
    radius_m: float
    located_at: datetime
    # The page shows the radius of the circle with the region's area grown at this rate to now.
    area_m2: float | None = None
    growth_mps: float | None = None
    place: PlaceOut | None = None


class GuardianViewOut(BaseModel):
    recipient_kind: str
    person_name: str
    situation: Literal["active", "called_off", "ended"]
    location: GuardianLocationOut | None
    can_answer: bool
    answered: str | None
    expires_at: datetime


def _out(found: GuardianView) -> GuardianViewOut:
    location: dict[str, Any] | None = found.location
    return GuardianViewOut(
        recipient_kind=found.recipient_kind.value,
        person_name=found.person_name,
        situation=found.situation,
        location=GuardianLocationOut(
            lat=location["lat"],
            lon=location["lon"],
            radius_m=location["radius_m"],
            located_at=location["located_at"],
            area_m2=location["area_m2"],
            growth_mps=location["growth_mps"],
            place=views.place_out(location["lat"], location["lon"]),
        )
        if location
        else None,
        can_answer=found.can_answer,
        answered=found.answered,
        expires_at=found.expires_at,
    )


def _view(context: AppContext, token: str) -> GuardianViewOut:
    config = _config(context)
    with context.uow.read() as session:
        return _out(guardian_page.view(session, token=token, config=config, now=context.now()))


def _config(context: AppContext) -> Any:
    if context.verification is None:
        raise Conflict("guardian links are not configured in this deployment")
    return context.verification


@router.get("/g/{token}", include_in_schema=False)
async def guardian_html(token: str, context: ContextDep) -> Response:
    """The page itself; a bad link gets a plain page that says so, with a 4xx status."""
    try:
        await run_in_threadpool(_view, context, token)
    except LinkExpired:
        return FileResponse(PAGE / "expired.html", status_code=410, headers=_PRIVATE)
    except DomainError:
        return FileResponse(PAGE / "invalid.html", status_code=403, headers=_PRIVATE)
    return FileResponse(PAGE / "index.html", headers=_PRIVATE)


@router.get(
    "/api/v1/guardian/{token}", operation_id="get_guardian_view", response_model=GuardianViewOut
)
async def get_guardian_view(token: str, context: ContextDep, response: Response) -> GuardianViewOut:
    """The person's live location and whether this link may still answer."""
    response.headers.update(_PRIVATE)
    return await run_in_threadpool(_view, context, token)


def _answer(context: AppContext, token: str, body: GuardianAnswerIn) -> GuardianViewOut:
    found = verification_commands.do_answer_as_guardian(
        context.platform, token=token, answer=Answer(body.answer)
    )
    return _out(found)


@router.post(
    "/api/v1/guardian/{token}/answer",
    operation_id="answer_as_guardian",
    response_model=GuardianViewOut,
    status_code=201,
    responses={
        403: {"description": "forged, expired or foreign link"},
        409: {"description": "already answered"},
    },
)
async def answer_as_guardian(
    token: str, body: GuardianAnswerIn, context: ContextDep, response: Response
) -> GuardianViewOut:
    """ "I am with them / it was a mistake" (safe) or "I cannot reach them / danger" (danger), once."""
    response.headers.update(_PRIVATE)
    return await run_in_threadpool(_answer, context, token, body)
