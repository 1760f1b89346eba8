"""The board's live WebSocket: catch up from the store, then every committed event in order."""

from __future__ import annotations

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.concurrency import run_in_threadpool

from ansim.api.auth import FIELD_ROLES, staff_actor, staff_for_websocket
from ansim.api.context import AppContext
from ansim.domain.events import EventEnvelope
from ansim.domain.staff import Role, StaffUser
from ansim.services import dispatch
from ansim.services.audit_trail import do_record_read
from ansim.store import outbox

router = APIRouter()
# Close codes in the 4000 range are ours: 4401 = log in first, 4408 = fell behind, reconnect.
UNAUTHENTICATED, TOO_SLOW = 4401, 4408


@router.websocket("/api/v1/stream")
async def stream(websocket: WebSocket, after: int = -1) -> None:
    """Committed events after `after` (an event id), then live; -1 (default) means from now on."""
    context: AppContext = websocket.app.state.context
    user = await run_in_threadpool(staff_for_websocket, websocket, *FIELD_ROLES)
    if user is None:
        await websocket.close(code=UNAUTHENTICATED, reason="log in first")
        return
    await websocket.accept()
    # The stream carries people's locations: opening it is a read of personal data, so it is audited.
    await run_in_threadpool(_audit_open, context, websocket, user)
    async with context.bus.subscribe() as subscription:
        # Subscribe first, then read the backlog, so no event falls between the two.
        def backlog() -> tuple[int, list[EventEnvelope]]:
            with context.uow.read() as session:
                start = outbox.latest_id(session) if after < 0 else after
                return start, outbox.since(session, after_id=start)

        last, missed = await run_in_threadpool(backlog)
        try:
            for envelope in missed:
                last = await _forward(websocket, context, user.role, user.unit_id, envelope, last)
            while True:
                live = await subscription.next()
                if live is None or subscription.overflowed:
                    await websocket.close(
                        code=TOO_SLOW, reason="fell behind; reconnect with ?after="
                    )
                    return
                last = await _forward(websocket, context, user.role, user.unit_id, live, last)
        except WebSocketDisconnect:
            return


def _audit_open(context: AppContext, websocket: WebSocket, user: StaffUser) -> None:
    do_record_read(context.platform, actor=staff_actor(websocket, user), action="stream.open")


async def _forward(
    websocket: WebSocket,
    context: AppContext,
    role: Role,
    unit_id: str | None,
    envelope: EventEnvelope,
    last: int,
) -> int:
    """Sends `envelope` unless already sent or not for this user; returns the last id handled."""
    if envelope.id <= last:
        return last
    if await run_in_threadpool(
        _visible, context, role, unit_id, envelope.incident_id, envelope.unit_id
    ):
        await websocket.send_text(envelope.model_dump_json())
    return envelope.id


def _visible(
    context: AppContext,
    role: Role,
    unit_id: str | None,
    incident_id: str | None,
    event_unit: str | None,
) -> bool:
    """Officers get their own unit's events and those of incidents their unit is assigned to."""
    if role != Role.OFFICER:
        return True
    if event_unit is not None and event_unit == unit_id:
        return True
    if incident_id is None:
        return False
    with context.uow.read() as session:
        return any(
            a.unit_id == unit_id
            for a in dispatch.incident_assignments(session, incident_id=incident_id)
        )
