"""The 112 app's intake: a silent SOS, acknowledged only once committed."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Response
from starlette.concurrency import run_in_threadpool

from ansim.api.app_signing import MaybeSignedInstall
from ansim.api.auth import ContextDep
from ansim.api.schemas import AppSosIn, FixIn, SosAck
from ansim.domain.fixes import LocationFix
from ansim.domain.incidents import Channel
from ansim.services.handlers import do_receive_sos
from ansim.services.incidents import SosReport

router = APIRouter(prefix="/api/v1/app", tags=["112 app"])


def to_fix(fix: FixIn, *, source: str, default_time: object) -> LocationFix:
    return LocationFix.with_confidence(
        lat=fix.lat,
        lon=fix.lon,
        radius_m=fix.accuracy_m,
        confidence=fix.confidence,
        method=fix.method,
        observed_at=fix.observed_at or default_time,
        source=source,
    )


@router.post("/sos", operation_id="app_send_sos", status_code=201, response_model=SosAck)
async def send_sos(
    body: AppSosIn,
    install: MaybeSignedInstall,
    context: ContextDep,
    response: Response,
    idempotency_key: Annotated[str | None, Header(min_length=8, max_length=200)] = None,
) -> SosAck:
    """Receives a silent SOS from a registered app install (signature checked when sent); a retry with the same key returns the same incident."""
    now = context.now()
    source = f"app:{install.address}"
    report = SosReport(
        channel=Channel.APP,
        received_at=now,
        source=source,
        subscriber_id=install.subscriber_id,
        fix=to_fix(body.fix, source=source, default_time=now) if body.fix else None,
        idempotency_scope=source,
        idempotency_key=idempotency_key,
    )
    outcome = await run_in_threadpool(lambda: do_receive_sos(context.platform, report=report))
    if not outcome.created:
        response.status_code = 200
    return SosAck(
        incident_id=outcome.incident.id, status=outcome.incident.status, replayed=outcome.replayed
    )
