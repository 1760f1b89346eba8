"""The demo's phone (demo mode only): a visitor registering the 112 app reads the code sent to
their number here, since the demo has no real SMS provider. Outside demo mode both routes are 404."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse
from pydantic import BaseModel

from ansim.api.auth import ContextDep
from ansim.intake.numbers import normalize_number
from ansim.services import app_accounts

router = APIRouter(tags=["demo"])
PAGE = Path(__file__).resolve().parent.parent / "web" / "static" / "demo" / "phone.html"


class PhoneMessagesOut(BaseModel):
    number: str
    messages: list[str]


def _demo_only(context: ContextDep) -> None:
    if not context.settings.demo:
        raise HTTPException(404, "the demo phone exists only in demo mode")


@router.get("/demo/phone", operation_id="demo_phone_page", include_in_schema=False)
async def phone_page(context: ContextDep) -> FileResponse:
    _demo_only(context)
    return FileResponse(PAGE)


@router.get(
    "/api/v1/demo/phone/messages",
    operation_id="demo_phone_messages",
    response_model=PhoneMessagesOut,
)
async def phone_messages(number: str, context: ContextDep) -> PhoneMessagesOut:
    """The app codes sent to a number, newest last (demo mode only)."""
    _demo_only(context)
    e164 = normalize_number(number)

    messages = await context.read(
        lambda session: app_accounts.outbox_messages(session, to_number=e164)
    )
    return PhoneMessagesOut(number=e164, messages=messages)
