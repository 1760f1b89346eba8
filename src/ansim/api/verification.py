"""The board's verification section: guardians to call, call outcomes, stand-down decisions, deliveries."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from ansim.api.auth import ConsoleUser, ContextDep, staff_actor
from ansim.api.context import AppContext
from ansim.domain.deliveries import DeliveryStatus, RecipientKind
from ansim.domain.staff import StaffUser
from ansim.domain.verification import Answer, DispatcherDecision
from ansim.services import deliveries, incidents, people, verification, verification_commands

router = APIRouter(prefix="/api/v1/incidents/{incident_id}/verification", tags=["verification"])


class CallIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    guardian_id: str = Field(min_length=1, max_length=64)
    outcome: Answer = Field(
        description="safe: with the person / a mistake; danger: cannot reach / danger; no_answer"
    )


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: DispatcherDecision
    reason: str = Field(default="", max_length=500)


class DeliveryOut(BaseModel):
    id: str
    recipient_kind: str
    recipient_id: str
    channel: str
    address: str
    template: str
    status: DeliveryStatus
    attempts: int
    updated_at: datetime
    last_error: str


class AnswerOut(BaseModel):
    recipient_id: str
    source: str
    answer: str
    actor: str
    at: datetime


class GuardianContactOut(BaseModel):
    id: str
    name: str
    relation: str
    phone: str
    email: str
    tel: str = Field(description="a tel: link for one-click calling")
    unreachable: bool = Field(description="every message to this guardian ended in the dead letter")
    answers: list[AnswerOut]
    deliveries: list[DeliveryOut]


class VerificationOut(BaseModel):
    incident_id: str
    started: bool
    state: str | None
    started_at: datetime | None
    due_at: datetime | None
    decided_at: datetime | None
    reason: str
    stand_down_requested: bool
    guardians: list[GuardianContactOut]
    other_deliveries: list[DeliveryOut] = Field(description="messages to school guards")
    wearer_deliveries: list[DeliveryOut] = Field(
        default_factory=list, description="silent notices to the person's own terminal"
    )


def verification_out(context: AppContext, incident_id: str) -> VerificationOut:
    with context.uow.read() as session:
        incident = incidents.get(session, incident_id=incident_id)
        found = verification.get(session, incident_id=incident_id)
        sent = [
            DeliveryOut(**{name: getattr(d, name) for name in DeliveryOut.model_fields})
            for d in deliveries.for_incident(session, incident_id=incident_id)
        ]
        answers = [
            AnswerOut(**{name: a[name] for name in AnswerOut.model_fields})
            for a in verification.answers(session, incident_id=incident_id)
        ]
        guardians = people.guardians_of(session, subscriber_id=incident.subscriber_id or "")
    contacts = []
    for g in guardians:
        mine = [d for d in sent if d.recipient_id == g.id]
        contacts.append(
            GuardianContactOut(
                id=g.id,
                name=g.name,
                relation=g.relation,
                phone=g.phone,
                email=g.email,
                tel="tel:" + "".join(c for c in g.phone if c.isdigit() or c == "+"),
                unreachable=bool(mine) and all(d.status == DeliveryStatus.DEAD for d in mine),
                answers=[a for a in answers if a.recipient_id == g.id],
                deliveries=mine,
            )
        )
    ids = {g.id for g in guardians}
    return VerificationOut(
        incident_id=incident_id,
        started=found is not None,
        state=found.state.value if found else None,
        started_at=found.started_at if found else None,
        due_at=found.due_at if found else None,
        decided_at=found.decided_at if found else None,
        reason=found.reason if found else "",
        stand_down_requested=found.stand_down_requested if found else False,
        guardians=contacts,
        other_deliveries=[
            d
            for d in sent
            if d.recipient_id not in ids and d.recipient_kind != RecipientKind.WEARER
        ],
        wearer_deliveries=[d for d in sent if d.recipient_kind == RecipientKind.WEARER],
    )


@router.get("", operation_id="get_verification", response_model=VerificationOut)
async def get_verification(
    incident_id: str, context: ContextDep, _user: ConsoleUser
) -> VerificationOut:
    """Guardians with tel: links, their answers and message deliveries, and the verification state."""
    return await run_in_threadpool(verification_out, context, incident_id)


def _start(
    context: AppContext, request: Request, user: StaffUser, incident_id: str
) -> VerificationOut:
    verification_commands.do_start_verification(
        context.platform, incident_id=incident_id, actor=staff_actor(request, user)
    )
    return verification_out(context, incident_id)


@router.post("", operation_id="start_verification", response_model=VerificationOut)
async def start_verification(
    incident_id: str, request: Request, context: ContextDep, user: ConsoleUser
) -> VerificationOut:
    """Starts verification by hand (it starts by itself when a unit is ordered); a second start is a no-op."""
    return await run_in_threadpool(_start, context, request, user, incident_id)


def _call(
    context: AppContext, request: Request, user: StaffUser, incident_id: str, body: CallIn
) -> VerificationOut:
    verification_commands.do_record_guardian_call(
        context.platform,
        incident_id=incident_id,
        guardian_id=body.guardian_id,
        outcome=body.outcome,
        actor=staff_actor(request, user),
    )
    return verification_out(context, incident_id)


@router.post("/calls", operation_id="record_guardian_call", response_model=VerificationOut)
async def record_guardian_call(
    incident_id: str, body: CallIn, request: Request, context: ContextDep, user: ConsoleUser
) -> VerificationOut:
    """Records a dispatcher's call to a guardian; danger escalates to code 0, a mistake asks to stand down."""
    return await run_in_threadpool(_call, context, request, user, incident_id, body)


def _decide(
    context: AppContext, request: Request, user: StaffUser, incident_id: str, body: DecisionIn
) -> VerificationOut:
    verification_commands.do_decide_verification(
        context.platform,
        incident_id=incident_id,
        decision=body.decision,
        reason=body.reason,
        actor=staff_actor(request, user),
    )
    return verification_out(context, incident_id)


@router.post("/decision", operation_id="decide_verification", response_model=VerificationOut)
async def decide_verification(
    incident_id: str, body: DecisionIn, request: Request, context: ContextDep, user: ConsoleUser
) -> VerificationOut:
    """A dispatcher's decision: stand down (incident becomes a false alarm; units are cleared by hand) or continue."""
    return await run_in_threadpool(_decide, context, request, user, incident_id, body)
