"""The 112 app's intake: a silent SOS, acknowledged only once committed."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Header, Response
from starlette.concurrency import run_in_threadpool

from ansim.api.app_signing import SosSenderDep
from ansim.api.auth import ContextDep
from ansim.api.schemas import AppSosIn, FixIn, SosAck
from ansim.domain.errors import InvalidInput
from ansim.domain.fixes import LocationFix
from ansim.domain.incidents import Channel
from ansim.services.handlers import IntakeFlag, do_receive_sos
from ansim.services.incidents import SosReport

router = APIRouter(prefix="/api/v1/app", tags=["112 app"])


def to_fix(fix: FixIn, *, source: str, default_time: datetime) -> LocationFix:
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
    sender: SosSenderDep,
    context: ContextDep,
    response: Response,
    idempotency_key: Annotated[str | None, Header(min_length=8, max_length=200)] = None,
) -> SosAck:
    """Receives a silent SOS signed by a registered app install; a retry with the same key returns the same incident.

    Nothing secondary refuses it: an unusable fix is dropped, a fix stamped in the future is
    re-timed by the device's clock, and a good signature from a wrong clock is taken (flagged).
    """
    now = context.now()
    install = sender.install
    source = f"app:{install.address}"
    flags = [IntakeFlag("fix_dropped", problem) for problem in body.unusable_fixes]
    fix = None
    if body.fix is not None:
        try:
            fix = to_fix(body.fix, source=source, default_time=now)
        except InvalidInput as err:
            flags.append(IntakeFlag("fix_dropped", str(err)[:200]))
    if sender.skew_note is not None:
        flags.append(IntakeFlag("signature_clock_skew", sender.skew_note))
    if sender.old_scheme is not None:
        flags.append(
            IntakeFlag(
                "signature_old_scheme",
                f"signed with the app's scheme {sender.old_scheme}: the page predates the upgrade",
            )
        )
    report = SosReport(
        channel=Channel.APP,
        received_at=now,
        source=source,
        subscriber_id=install.subscriber_id,
        fix=fix,
        idempotency_scope=source,
        # The key header is not signed, so the signature is the press's identity too: a replay
        # of a captured SOS under a new key is still the same press.
        idempotency_key=idempotency_key or f"sig:{sender.signature}",
        signature_key=f"sig:{sender.signature}",
    )
    outcome = await run_in_threadpool(
        do_receive_sos, context.platform, report=report, sent_at=sender.sent_at, flags=flags
    )
    if not outcome.created:
        response.status_code = 200
    return SosAck(
        incident_id=outcome.incident.id, status=outcome.incident.status, replayed=outcome.replayed
    )
