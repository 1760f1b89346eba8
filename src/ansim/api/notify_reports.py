"""The SMS gateway's delivery-report callback; only correctly signed, fresh reports change anything."""

from __future__ import annotations

import json
from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from ansim.api.auth import ContextDep
from ansim.api.context import AppContext
from ansim.domain.deliveries import DeliveryStatus
from ansim.domain.errors import InvalidInput
from ansim.notify.notifier import REPORTS_PATH
from ansim.security.signing import (
    GATEWAY_PREFIX,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SignatureRefused,
    verify_timestamped,
)
from ansim.services import verification_commands

router = APIRouter(tags=["notification channels"])


class DeliveryReportIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    message_id: str = Field(min_length=3, max_length=100)
    status: Literal["delivered", "failed"]
    error: str = Field(default="", max_length=500)


class DeliveryReportOut(BaseModel):
    delivery_id: str
    status: DeliveryStatus


def _apply(context: AppContext, report: DeliveryReportIn) -> DeliveryReportOut:
    delivery = verification_commands.do_record_delivery_report(
        context.platform,
        message_id=report.message_id,
        delivered=report.status == "delivered",
        error=report.error,
    )
    return DeliveryReportOut(delivery_id=delivery.id, status=delivery.status)


@router.post(
    REPORTS_PATH, operation_id="receive_sms_delivery_report", response_model=DeliveryReportOut
)
async def receive_sms_delivery_report(request: Request, context: ContextDep) -> DeliveryReportOut:
    """A delivery report signed like our requests (X-Ansim-Timestamp, X-Ansim-Signature: v1=HMAC)."""
    body = await request.body()
    secret = context.settings.verification.sms_gateway_secret.get_secret_value().encode()
    if not secret:
        raise SignatureRefused("delivery reports are refused: no SMS gateway secret is configured")
    verify_timestamped(
        secret,
        timestamp=request.headers.get(TIMESTAMP_HEADER),
        signature=request.headers.get(SIGNATURE_HEADER),
        body=body,
        now=context.now(),
        window=context.settings.signature_window,
        prefix=GATEWAY_PREFIX,
        signer="the SMS gateway's secret",
    )
    try:
        report = DeliveryReportIn.model_validate(json.loads(body))
    except (ValueError, ValidationError) as error:
        raise InvalidInput(f"not a delivery report: {error}") from None
    return await run_in_threadpool(_apply, context, report)
