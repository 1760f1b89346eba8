"""What every intake router needs: bounded body reading, discards in their own transaction, 401s."""

from __future__ import annotations

import logging

from fastapi import HTTPException, Request
from starlette.concurrency import run_in_threadpool

from ansim.api.context import AppContext
from ansim.intake.settings import IntakeSettings
from ansim.services import discards

log = logging.getLogger("ansim.intake")


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


async def discard(context: AppContext, *, channel: str, reason: str, detail: str) -> None:
    """Counts a refused message (its own transaction); a store that fails here only logs."""
    try:
        await run_in_threadpool(
            discards.do_record_discard,
            context.platform,
            channel=channel,
            reason=reason,
            detail=detail,
        )
    except Exception:
        log.exception("intake %s: could not count a discard (%s)", channel, reason)


async def refuse(
    context: AppContext, *, channel: str, reason: str, status: int, detail: str
) -> HTTPException:
    """Counts the refusal and returns the HTTP error to raise."""
    await discard(context, channel=channel, reason=reason, detail=detail)
    return HTTPException(status, detail)


def intake_settings(request: Request) -> IntakeSettings:
    cached: IntakeSettings | None = getattr(request.app.state, "intake_settings", None)
    if cached is None:
        cached = IntakeSettings()
        request.app.state.intake_settings = cached
    return cached
