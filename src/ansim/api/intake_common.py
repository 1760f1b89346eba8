"""What every intake router needs: bounded body reading, discards in their own transaction, 401s."""

from __future__ import annotations

from datetime import datetime

from fastapi import HTTPException, Request
from starlette.concurrency import run_in_threadpool

from ansim.api.context import AppContext
from ansim.intake.settings import IntakeSettings
from ansim.services import discards


async def read_body(request: Request, *, limit: int) -> bytes:
    """Reads at most `limit` bytes; a larger body is refused before it is all in memory."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"body is larger than {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise HTTPException(413, f"body is larger than {limit} bytes")
    return bytes(body)


def record_discard_now(
    context: AppContext, *, channel: str, reason: str, at: datetime, detail: str = ""
) -> None:
    """Counts a discard in a transaction of its own, so nothing of the refused message is kept."""
    with context.uow.begin() as session:
        discards.record(session, channel=channel, reason=reason, at=at, detail=detail)


async def refuse(
    context: AppContext, *, channel: str, reason: str, status: int, detail: str
) -> HTTPException:
    """Counts the refusal and returns the HTTP error to raise."""
    await run_in_threadpool(
        record_discard_now, context, channel=channel, reason=reason, at=context.now(), detail=detail
    )
    return HTTPException(status, detail)


def intake_settings(request: Request) -> IntakeSettings:
    cached: IntakeSettings | None = getattr(request.app.state, "intake_settings", None)
    if cached is None:
        cached = IntakeSettings()
        request.app.state.intake_settings = cached
    return cached
