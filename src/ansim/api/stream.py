"""The board's live WebSocket: catch up from the store, then every committed event in order."""

from __future__ import annotations

from collections import deque

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
    """Events from the horizon `after` on, then live; -1 (default) means from now on.

    `after` is a horizon the client reached (the newest `horizon` field it received): it holds
    every event below it. Events at or above it are sent again; the client drops repeats by id and
    orders each incident's events by `seq`. 0 means every stored event.
    """
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
        def backlog() -> outbox.Catchup:
            with context.uow.read() as session:
                if after < 0:
                    return outbox.Catchup([], outbox.horizon(session), frozenset())
                return outbox.catch_up(session, start=after)

        caught = await run_in_threadpool(backlog)
        # Never the same event twice on one connection: the backlog's events come live again, and
        # a relay that died between publishing and marking publishes its batch again.
        sent = _RecentIds()
        try:
            for envelope in _stamp_last(caught.events, caught.horizon):
                sent.add(envelope.id)
                await _forward(websocket, context, user.role, user.unit_id, envelope)
            while True:
                live = await subscription.next()
                if live is None or subscription.overflowed:
                    await websocket.close(
                        code=TOO_SLOW, reason="fell behind; reconnect with ?after="
                    )
                    return
                if live.id in sent:
                    continue
                sent.add(live.id)
                await _forward(websocket, context, user.role, user.unit_id, live)
        except WebSocketDisconnect:
            return


class _RecentIds:
    """The ids sent lately (a bounded set: a repeat comes within seconds, not hours)."""

    def __init__(self, keep: int = 20_000) -> None:
        self._ids: set[int] = set()
        self._order: deque[int] = deque()
        self._keep = keep

    def __contains__(self, event_id: int) -> bool:
        return event_id in self._ids

    def add(self, event_id: int) -> None:
        self._ids.add(event_id)
        self._order.append(event_id)
        if len(self._order) > self._keep:
            self._ids.discard(self._order.popleft())


def _stamp_last(events: list[EventEnvelope], reached: int) -> list[EventEnvelope]:
    """The backlog's horizon rides on its last event: the client holds everything below it then."""
    if not events:
        return events
    return [*events[:-1], events[-1].model_copy(update={"horizon": reached})]


def _audit_open(context: AppContext, websocket: WebSocket, user: StaffUser) -> None:
    do_record_read(context.platform, actor=staff_actor(websocket, user), action="stream.open")


async def _forward(
    websocket: WebSocket,
    context: AppContext,
    role: Role,
    unit_id: str | None,
    envelope: EventEnvelope,
) -> None:
    """Sends `envelope` if it is for this user (an officer sees only their unit's work)."""
    if await run_in_threadpool(
        _visible, context, role, unit_id, envelope.incident_id, envelope.unit_id
    ):
        await websocket.send_text(envelope.model_dump_json())


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
