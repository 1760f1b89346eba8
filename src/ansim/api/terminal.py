"""U-안심 terminals over HTTP (always) and MQTT (when ANSIM_MQTT_URL is set)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from ansim.api.auth import ContextDep
from ansim.api.context import AppContext
from ansim.api.heartbeat_batch import batcher_for
from ansim.api.intake_common import discard, read_body
from ansim.domain.errors import Conflict, DomainError, InvalidInput, NotFound
from ansim.domain.terminals import StaleSequence
from ansim.intake import mqtt
from ansim.intake.settings import IntakeSettings
from ansim.intake.terminal_protocol import MAX_MESSAGE_BYTES, BadSignature
from ansim.services import terminals
from ansim.services.terminal_notices import UnknownNotice

log = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def mqtt_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Runs the MQTT bridge beside the app when a broker is configured (restarted if it dies)."""
    if getattr(app.state, "intake_settings", None) is None:
        app.state.intake_settings = IntakeSettings()
    broker = app.state.intake_settings.mqtt_url
    if not broker:
        yield
        return
    context: AppContext = app.state.context
    stopping = asyncio.Event()
    health = app.state.terminal_bridge = mqtt.BridgeHealth()
    metrics = getattr(app.state, "metrics", None)
    if metrics is not None:
        metrics.watch_bridge("terminal-mqtt", health)

    async def handle(terminal_id: str, raw: bytes) -> list[dict[str, Any]]:
        return await receive(context, raw, channel="terminal-mqtt", topic_terminal=terminal_id)

    bridge = asyncio.create_task(
        mqtt.supervise_bridge(
            broker, handle, stopping, health, group=app.state.intake_settings.mqtt_share_group
        ),
        name="terminal-mqtt",
    )
    try:
        yield
    finally:
        stopping.set()
        bridge.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await bridge


MESSAGES_PATH = "/api/v1/terminals/messages"
router = APIRouter(prefix="/api/v1/terminals", tags=["U-안심 terminals"], lifespan=mqtt_lifespan)


class TerminalReplies(BaseModel):
    replies: list[dict[str, Any]]


# Each refusal is counted under one reason and answered with one status; first match wins.
_REFUSALS: list[tuple[type[DomainError], str, int]] = [
    (BadSignature, "bad_signature", 401),
    (UnknownNotice, "unknown_notice", 404),
    (NotFound, "unknown_terminal", 401),
    (StaleSequence, "stale_sequence", 409),
    (InvalidInput, "malformed", 422),
    (Conflict, "conflict", 409),
    (DomainError, "refused", 400),
]
# Anything unforeseen (the store down, a bug): not applied, so the device should send it again.
_FAILED = ("internal_error", 503)


class TerminalRefused(Exception):
    def __init__(self, reason: str, status: int, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.status, self.detail = reason, status, detail


async def receive(
    context: AppContext, raw: bytes, *, channel: str, topic_terminal: str | None = None
) -> list[dict[str, Any]]:
    """Applies one terminal message; refusals are counted and raised as TerminalRefused."""
    try:
        # A message that names no terminal (unreadable, or the field missing) is refused below
        # by the parser, which says what is wrong with it.
        claimed = _claimed_id(raw)
        if topic_terminal is not None and claimed is not None and claimed != topic_terminal:
            raise InvalidInput("terminal id in the message differs from the topic")
        if _claimed(raw, "type") == "heartbeat":
            # Heartbeats commit in batches (group commit); each is acknowledged after its batch.
            batcher = batcher_for(context.platform)
            outcome = await batcher.submit(raw)
            if outcome.refused is not None:
                raise outcome.refused
            return outcome.replies
        return await run_in_threadpool(terminals.do_receive_message, context.platform, raw=raw)
    except DomainError as err:
        reason, status = next((r, s) for kind, r, s in _REFUSALS if isinstance(err, kind))
        detail = str(err)
    except Exception as err:
        reason, status = _FAILED
        detail = f"not applied ({type(err).__name__}); send it again"
        await discard(context, channel=channel, reason=reason, detail=detail)
        if topic_terminal is not None:
            raise  # the bridge logs it with its message id and counts it in /metrics
        log.exception("terminal message on %s failed (%d bytes)", channel, len(raw))
        raise TerminalRefused(reason, status, detail) from None
    await discard(context, channel=channel, reason=reason, detail=detail)
    if topic_terminal is not None:
        return []  # over MQTT a refused message gets no reply: nothing to tell an impostor
    raise TerminalRefused(reason, status, detail) from None


def _claimed_id(raw: bytes) -> object:
    return _claimed(raw, "terminal_id")


def _claimed(raw: bytes, field: str) -> object:
    """A field of the message as sent (not yet verified), or None."""
    with contextlib.suppress(ValueError, UnicodeDecodeError, RecursionError):
        document = json.loads(raw)
        if isinstance(document, dict):
            return document.get(field)
    return None


async def answer(context: AppContext, raw: bytes) -> tuple[int, dict[str, Any]]:
    """The HTTP answer to one terminal message: status and JSON document (replies or detail)."""
    try:
        return 200, {"replies": await receive(context, raw, channel="terminal-http")}
    except TerminalRefused as err:
        return err.status, {"detail": err.detail}


@router.post("/messages", operation_id="terminal_send_message", response_model=TerminalReplies)
async def terminal_send_message(request: Request, context: ContextDep) -> TerminalReplies:
    """A terminal's signed message (sos, location, heartbeat, cancel); replies are signed too.

    Served by `terminal_fast.TerminalMessages` ahead of the router in the app; the same answer.
    """
    raw = await read_body(request, limit=MAX_MESSAGE_BYTES)
    status, document = await answer(context, raw)
    if status != 200:
        raise HTTPException(status, document["detail"])
    return TerminalReplies(replies=document["replies"])
