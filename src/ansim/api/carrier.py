"""The one-touch SOS gateway: the carrier's call notification, AML SMS from the SMS centre, Android ELS."""

from __future__ import annotations

import base64
import binascii
import logging
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, HTTPException, Request, Response
from pydantic import (
    BaseModel,
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    ValidationError,
    model_validator,
)
from starlette.concurrency import run_in_threadpool

from ansim.api.auth import ContextDep
from ansim.api.context import AppContext
from ansim.api.intake_common import discard, intake_settings, read_body, refuse
from ansim.api.schemas import Body, SosAck
from ansim.domain.errors import InvalidInput
from ansim.domain.fixes import FixMethod, LocationFix
from ansim.domain.incidents import Channel
from ansim.intake.formats import parse_aml_text, parse_els_body, parse_pidf_lo
from ansim.intake.formats.aml import decode_aml_data_sms
from ansim.intake.numbers import normalize_number
from ansim.security.signing import SignatureRefused, Verified
from ansim.services import carriers, handset, people
from ansim.services.handlers import IntakeFlag, do_receive_sos
from ansim.services.handset_intake import do_receive_handset_fix
from ansim.services.incidents import SosReport

router = APIRouter(tags=["one-touch carrier gateway"])
log = logging.getLogger(__name__)
MAX_CARRIER_BODY = 96 * 1024
MAX_AML_BODY = 4 * 1024
MAX_ELS_BODY = 16 * 1024
PHONE = r"^[+0-9][0-9 \-]{2,24}$"
log = logging.getLogger(__name__)


class NetworkLocationIn(Body):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    radius_m: float = Field(ge=0, le=50_000)
    confidence: float = Field(default=0.68, gt=0, lt=1)
    method: Literal["cell", "gnss", "wifi", "aml", "unknown"] = "cell"
    cell_id: str | None = Field(default=None, max_length=64)
    observed_at: datetime | None = None


class CarrierSosIn(Body):
    call_id: str = Field(
        min_length=4, max_length=100, description="the carrier's id of this call; retries repeat it"
    )
    caller_number: str = Field(pattern=PHONE)
    called_at: datetime
    network_location: NetworkLocationIn | None = Field(
        default=None, description="an unusable location is dropped (and flagged); the SOS is kept"
    )
    pidf_lo: str | None = Field(default=None, max_length=64 * 1024, description="PIDF-LO XML")
    _unusable: tuple[str, ...] = PrivateAttr(default=())

    @model_validator(mode="wrap")
    @classmethod
    def _drop_unusable_location(
        cls, data: Any, handler: ModelWrapValidatorHandler[CarrierSosIn]
    ) -> CarrierSosIn:
        problem: str | None = None
        if isinstance(data, dict) and data.get("network_location") is not None:
            try:
                NetworkLocationIn.model_validate(data["network_location"])
            except ValidationError as err:
                first = err.errors()[0]
                where = ".".join(str(part) for part in first["loc"]) or "value"
                problem = f"network_location {where}: {first['msg']}"[:200]
                data = {**data, "network_location": None}
        report = handler(data)
        report._unusable = (problem,) if problem else ()
        return report

    @property
    def unusable_fixes(self) -> tuple[str, ...]:
        return self._unusable


class AmlDeliveryIn(Body):
    originating_number: str = Field(pattern=PHONE)
    text: str | None = Field(default=None, max_length=1024)
    data_base64: str | None = Field(default=None, max_length=1400, description="Android data SMS")


class HandsetAck(BaseModel):
    accepted: bool
    reason: str = ""
    incident_id: str | None = None


async def _authenticate(
    context: AppContext, request: Request, body: bytes, channel: str, *, sos: bool = False
) -> tuple[str, Verified]:
    carrier_id = request.headers.get("x-ansim-carrier", "")
    timestamp = request.headers.get("x-ansim-timestamp", "")
    signature = request.headers.get("x-ansim-signature", "")

    def check() -> Verified:
        with context.uow.read() as session:
            return carriers.authenticate(
                session,
                carrier_id=carrier_id,
                timestamp=timestamp,
                body=body,
                signature=signature,
                at=context.now(),
                window=context.settings.signature_window,
                sos=sos,
            )

    try:
        return carrier_id, await run_in_threadpool(check)
    except SignatureRefused as err:
        raise await refuse(
            context, channel=channel, reason="bad_signature", status=401, detail=str(err)
        ) from None


def _network_fix(body: CarrierSosIn, received_at: datetime, carrier_id: str) -> LocationFix | None:
    source = f"carrier:{carrier_id}"
    if body.pidf_lo is not None:
        document = parse_pidf_lo(body.pidf_lo.encode())
        if not document.geodetic:
            raise InvalidInput("the PIDF-LO has no geodetic location")
        return document.geodetic[0].to_fix(received_at=received_at, source=source)
    located = body.network_location
    if located is None:
        return None
    return LocationFix.with_confidence(
        lat=located.lat,
        lon=located.lon,
        radius_m=located.radius_m,
        confidence=located.confidence,
        method=FixMethod(located.method),
        observed_at=located.observed_at or received_at,
        source=source,
    )


@router.post(
    "/api/v1/carrier/sos", operation_id="carrier_report_sos", status_code=201, response_model=SosAck
)
async def carrier_report_sos(request: Request, context: ContextDep, response: Response) -> SosAck:
    """The carrier's platform reports a one-touch call (speed-dial 1 → 112), signed with its secret.

    An authentic report is never refused for its clock or its location: a signature time outside
    the replay window is flagged (the call id stops replays), an unusable location is dropped.
    """
    raw = await read_body(request, limit=MAX_CARRIER_BODY)
    carrier_id, verified = await _authenticate(context, request, raw, "carrier", sos=True)
    now = context.now()
    try:
        body = CarrierSosIn.model_validate_json(raw)
    except ValidationError as err:
        raise await refuse(
            context, channel="carrier", reason="malformed", status=422, detail=str(err)
        ) from None
    flags = [IntakeFlag("fix_dropped", problem) for problem in body.unusable_fixes]
    try:
        fix = _network_fix(body, now, carrier_id)
    except (InvalidInput, ValueError) as err:
        fix = None
        flags.append(IntakeFlag("fix_dropped", str(err)[:200]))
    if (skew := verified.skew_note()) is not None:
        flags.append(IntakeFlag("signature_clock_skew", skew))
    try:
        number: str | None = normalize_number(body.caller_number)
    except InvalidInput:
        # A caller number we cannot read never refuses an SOS: the call stands without it.
        log.warning(
            "carrier %s: caller number %r is not a phone number", carrier_id, body.caller_number
        )
        number = None

    def bound_subscriber() -> str | None:
        if number is None:
            return None
        with context.uow.read() as session:
            bound = people.binding(session, channel=Channel.ONE_TOUCH, address=number)
            return bound.subscriber_id if bound else None

    report = SosReport(
        channel=Channel.ONE_TOUCH,
        received_at=now,
        source=f"carrier:{carrier_id}",
        subscriber_id=await run_in_threadpool(bound_subscriber),
        caller_number=number,
        fix=fix,
        idempotency_scope=f"carrier:{carrier_id}",
        idempotency_key=body.call_id,
    )
    outcome = await run_in_threadpool(
        do_receive_sos, context.platform, report=report, sent_at=body.called_at, flags=flags
    )
    if not outcome.created:
        response.status_code = 200
    return SosAck(
        incident_id=outcome.incident.id, status=outcome.incident.status, replayed=outcome.replayed
    )


@router.post("/api/v1/carrier/aml", operation_id="carrier_deliver_aml", response_model=HandsetAck)
async def carrier_deliver_aml(request: Request, context: ContextDep) -> HandsetAck:
    """The SMS centre delivers an AML SMS (text or Android data SMS); 2xx even when discarded."""
    raw = await read_body(request, limit=MAX_AML_BODY)
    carrier_id, verified = await _authenticate(context, request, raw, "aml")
    digest = verified.signature
    now = context.now()
    try:
        delivery = AmlDeliveryIn.model_validate_json(raw)
        if (delivery.text is None) == (delivery.data_base64 is None):
            raise InvalidInput("give exactly one of text or data_base64")
        text = delivery.text
        if delivery.data_base64 is not None:
            text = decode_aml_data_sms(base64.b64decode(delivery.data_base64, validate=True))
        assert text is not None
        number = normalize_number(delivery.originating_number)
        message = parse_aml_text(text, originating_number=number)
        fix = message.fix(now)
    except (ValidationError, InvalidInput, binascii.Error, ValueError) as err:
        return await _discard(context, "aml", "malformed", str(err))
    if fix is None:
        return await _discard(context, "aml", "no_location", "the handset had no fix")

    try:
        outcome = await run_in_threadpool(
            lambda: do_receive_handset_fix(
                context.platform,
                channel="aml",
                caller_number=number,
                imei=message.imei,
                fix=fix,
                replay_scope=f"aml:{carrier_id}",
                digest=digest,
            )
        )
    except handset.TooManyPending as err:
        return await _discard(context, "aml", "rate_limited", str(err))
    except InvalidInput as err:
        return await _discard(context, "aml", "unusable_fix", str(err))
    answer = HandsetAck(
        accepted=outcome.accepted, reason=outcome.reason, incident_id=outcome.incident_id
    )
    if answer.reason == "replayed":
        return await _discard(context, "aml", "replayed", f"carrier {carrier_id}")
    return answer


@router.post("/api/v1/els", operation_id="els_receive", response_model=HandsetAck)
async def els_receive(
    request: Request,
    context: ContextDep,
    content_type: Annotated[str, Header()] = "",
) -> HandsetAck:
    """Android Emergency Location Service over HTTPS (form post); 2xx even when discarded."""
    try:
        raw = await read_body(request, limit=MAX_ELS_BODY)
    except HTTPException:
        return await _discard(context, "els", "oversize", f"more than {MAX_ELS_BODY} bytes")
    if not content_type.startswith("application/x-www-form-urlencoded"):
        return await _discard(context, "els", "content_type", content_type[:100])
    key = intake_settings(request).els_hmac_key
    now = context.now()
    try:
        message = parse_els_body(raw, hmac_key=key.encode() if key else None)
        fix = message.fix(now)
    except InvalidInput as err:
        return await _discard(context, "els", "malformed", str(err))
    if fix is None:
        return await _discard(context, "els", "no_location", "the post had no position")
    if message.phone_number is None and message.imei is None:
        return await _discard(context, "els", "no_identity", "neither device_number nor IMEI")
    try:
        number = normalize_number(message.phone_number) if message.phone_number else None
    except InvalidInput:
        number = None
    if number is None and message.imei is None:
        return await _discard(context, "els", "malformed", "device_number is not a phone number")

    try:
        outcome = await run_in_threadpool(
            lambda: do_receive_handset_fix(
                context.platform, channel="els", caller_number=number, imei=message.imei, fix=fix
            )
        )
    except handset.TooManyPending as err:
        return await _discard(context, "els", "rate_limited", str(err))
    except InvalidInput as err:
        return await _discard(context, "els", "unusable_fix", str(err))
    incident_id = outcome.incident_id
    return HandsetAck(accepted=True, incident_id=incident_id)


async def _discard(context: AppContext, channel: str, reason: str, detail: str) -> HandsetAck:
    await discard(context, channel=channel, reason=reason, detail=detail)
    return HandsetAck(accepted=False, reason=reason)
