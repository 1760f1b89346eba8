"""The 112 situation board's API: the incident queue, detail, dispatch, status and priority."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from ansim.api import views
from ansim.api.auth import ConsoleUser, ContextDep, FieldUser, staff_actor
from ansim.api.schemas import (
    DispatchIn,
    IncidentDetailOut,
    IncidentOut,
    IncidentStatusIn,
    NoteIn,
    PriorityIn,
    TimelineEntryOut,
)
from ansim.domain.incidents import PriorityCode
from ansim.domain.staff import Role, StaffUser
from ansim.services import incident_commands, incidents, notes, officer_scope, people

router = APIRouter(prefix="/api/v1/incidents", tags=["situation board"])


def _list(
    context: ContextDep,
    response: Response,
    user: StaffUser,
    active: bool,
    limit: int | None,
    cursor: str | None,
) -> list[IncidentOut]:
    after = incidents.QueuePosition.parse(cursor) if cursor else None
    with context.uow.read() as session:
        if active:
            # Every open incident reaches the board, however many: the queue has no cap.
            page = incidents.list_open(session, limit=limit + 1 if limit else None, after=after)
            found = page[:limit] if limit else page
            if limit is not None and len(page) > limit:
                response.headers["X-Next-Cursor"] = incidents.QueuePosition.of(found[-1]).token()
            open_count, waiting = incidents.count_open(session)
            response.headers["X-Open-Incidents"] = str(open_count)
            response.headers["X-Waiting-For-Units"] = str(waiting)
        else:
            found = incidents.list_recent(session, active_only=False)
        if user.role == Role.OFFICER:
            mine = officer_scope.open_incident_ids(session, unit_id=user.unit_id)
            found = [i for i in found if i.id in mine]
        return [
            views.incident_out(
                i,
                people.get_subscriber(session, subscriber_id=i.subscriber_id)
                if i.subscriber_id
                else None,
            )
            for i in found
        ]


@router.get("", operation_id="list_incidents", response_model=list[IncidentOut])
async def list_incidents(
    response: Response,
    context: ContextDep,
    user: FieldUser,
    active: bool = True,
    limit: Annotated[int | None, Query(ge=1, le=1000)] = None,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> list[IncidentOut]:
    """Open incidents in the dispatcher's order, all of them (or paged with `limit` and the
    X-Next-Cursor header): waiting for a unit first, then code 0 first, longest-waiting first.
    X-Open-Incidents and X-Waiting-For-Units count them all. `active=false`: the 200 newest of
    any status. Officers see only those their unit has an open order for."""
    return await run_in_threadpool(_list, context, response, user, active, limit, cursor)


def _detail(context: ContextDep, user: StaffUser, incident_id: str) -> IncidentDetailOut:
    with context.uow.read() as session:
        officer_scope.check_may_see_incident(session, user, incident_id=incident_id)
        return views.incident_detail(
            session,
            incident_id=incident_id,
            ranker=context.ranker,
            at=context.now(),
            rest_s=context.dispatch_policy.unit_rest_s,
        )


@router.get("/{incident_id}", operation_id="get_incident", response_model=IncidentDetailOut)
async def get_incident(incident_id: str, context: ContextDep, user: FieldUser) -> IncidentDetailOut:
    """Who, where, the timeline, the units on it and the units that could go."""
    return await run_in_threadpool(_detail, context, user, incident_id)


def _dispatch(
    context: ContextDep, request: Request, user: StaffUser, incident_id: str, unit_id: str
) -> IncidentDetailOut:
    incident_commands.do_dispatch_unit(
        context.platform,
        incident_id=incident_id,
        unit_id=unit_id,
        actor=staff_actor(request, user),
    )
    return _detail(context, user, incident_id)


@router.post(
    "/{incident_id}/dispatch", operation_id="dispatch_unit", response_model=IncidentDetailOut
)
async def dispatch_unit(
    incident_id: str, body: DispatchIn, request: Request, context: ContextDep, user: ConsoleUser
) -> IncidentDetailOut:
    """Orders an available unit to the incident."""
    return await run_in_threadpool(_dispatch, context, request, user, incident_id, body.unit_id)


def _status(
    context: ContextDep,
    request: Request,
    user: StaffUser,
    incident_id: str,
    body: IncidentStatusIn,
) -> IncidentDetailOut:
    incident_commands.do_change_incident_status(
        context.platform,
        incident_id=incident_id,
        status=body.status,
        reason=body.reason,
        actor=staff_actor(request, user),
    )
    return _detail(context, user, incident_id)


@router.post(
    "/{incident_id}/status", operation_id="change_incident_status", response_model=IncidentDetailOut
)
async def change_incident_status(
    incident_id: str,
    body: IncidentStatusIn,
    request: Request,
    context: ContextDep,
    user: ConsoleUser,
) -> IncidentDetailOut:
    """Moves the incident along its lifecycle; an illegal step answers 409."""
    return await run_in_threadpool(_status, context, request, user, incident_id, body)


def _priority(
    context: ContextDep, request: Request, user: StaffUser, incident_id: str, body: PriorityIn
) -> IncidentDetailOut:
    incident_commands.do_change_incident_priority(
        context.platform,
        incident_id=incident_id,
        priority=PriorityCode(body.priority),
        reason=body.reason,
        actor=staff_actor(request, user),
    )
    return _detail(context, user, incident_id)


@router.post(
    "/{incident_id}/priority",
    operation_id="change_incident_priority",
    response_model=IncidentDetailOut,
)
async def change_incident_priority(
    incident_id: str, body: PriorityIn, request: Request, context: ContextDep, user: ConsoleUser
) -> IncidentDetailOut:
    """Sets the priority code (0 most urgent) with a reason for the timeline."""
    return await run_in_threadpool(_priority, context, request, user, incident_id, body)


@router.post(
    "/{incident_id}/notes",
    operation_id="add_dispatcher_note",
    status_code=201,
    response_model=TimelineEntryOut,
)
async def add_dispatcher_note(
    incident_id: str, body: NoteIn, request: Request, context: ContextDep, user: ConsoleUser
) -> TimelineEntryOut:
    """A note to the units on the incident: on the board's timeline and on the crews' terminals."""
    entry = await run_in_threadpool(
        lambda: notes.do_add_dispatcher_note(
            context.platform,
            incident_id=incident_id,
            text=body.text,
            actor=staff_actor(request, user),
        )
    )
    assert entry.id is not None  # flushed with its transaction
    return TimelineEntryOut(
        id=entry.id, kind=entry.kind, at=entry.at, actor=entry.actor, data=entry.data
    )
