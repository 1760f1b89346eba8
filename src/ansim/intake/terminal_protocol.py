"""The U-안심 terminal protocol: signed JSON messages both ways (see docs/terminal-protocol.md)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    ValidationError,
    model_validator,
)

from ansim.domain.errors import InvalidInput
from ansim.security.signing import SignatureRefused, hmac_hex, same_digest

PROTOCOL_VERSION = 1
MAX_MESSAGE_BYTES = 4096
TOPIC_PREFIX = "ansim/v1/terminals"
UP_TOPIC_FILTER = f"{TOPIC_PREFIX}/+/up"
TerminalId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{3,64}$")]
# What a server→device notice may say (the device vibrates only: `silent`).
NOTICE_KINDS = ("help_coming", "stood_down")


class BadSignature(SignatureRefused):
    """The message's HMAC does not match the terminal's secret."""


def up_topic(terminal_id: str) -> str:
    return f"{TOPIC_PREFIX}/{terminal_id}/up"


def down_topic(terminal_id: str) -> str:
    return f"{TOPIC_PREFIX}/{terminal_id}/down"


class Wire(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TerminalFix(Wire):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    accuracy_m: float = Field(ge=0, le=50_000, description="radius at 68 % (one sigma)")
    method: Literal["gnss", "wifi", "cell"]
    at: datetime


class TerminalMessage(Wire):
    """One device→server message; `sig` covers every other field in canonical form."""

    v: Literal[1]
    type: Literal["sos", "location", "heartbeat", "cancel", "notice_ack"]
    terminal_id: TerminalId
    seq: int = Field(ge=1, le=2**53)
    sent_at: datetime
    fix: TerminalFix | None = None
    fixes: list[TerminalFix] = Field(default_factory=list, max_length=50)
    battery_pct: int | None = Field(default=None, ge=0, le=100)
    signal_dbm: int | None = Field(default=None, ge=-150, le=0)
    config_version: int | None = Field(default=None, ge=0)
    pin: str | None = Field(default=None, pattern=r"^\d{4,8}$")
    notice_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    sig: str = Field(pattern=r"^[0-9a-f]{64}$")
    _unusable: tuple[str, ...] = PrivateAttr(default=())

    @model_validator(mode="wrap")
    @classmethod
    def _drop_unusable_fixes(
        cls, data: Any, handler: ModelWrapValidatorHandler[TerminalMessage]
    ) -> TerminalMessage:
        """An impossible fix is dropped, not the message: an SOS must never fail over its fix."""
        problems: list[str] = []
        if isinstance(data, dict):
            data = dict(data)
            if data.get("fix") is not None and not _usable(data["fix"], problems):
                data["fix"] = None
            if isinstance(data.get("fixes"), list):
                data["fixes"] = [fix for fix in data["fixes"] if _usable(fix, problems)]
        message = handler(data)
        message._unusable = tuple(problems)
        return message

    @property
    def unusable_fixes(self) -> tuple[str, ...]:
        """Why each dropped fix could not be used (kept on the incident's timeline)."""
        return self._unusable


def _usable(fix: object, problems: list[str]) -> bool:
    try:
        TerminalFix.model_validate(fix)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        problems.append(f"fix {where or 'value'}: {first['msg']}"[:200])
        return False
    return True


def canonical(message: dict[str, Any]) -> bytes:
    """The signed form: every field except `sig`, keys sorted, no spaces, UTF-8."""
    unsigned = {key: value for key, value in message.items() if key != "sig" and value is not None}
    return json.dumps(unsigned, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sign(message: dict[str, Any], *, secret: str) -> dict[str, Any]:
    """Returns `message` with its `sig` (HMAC-SHA256 over the canonical form, hex)."""
    digest = hmac_hex(secret.encode(), canonical(message))
    return {**message, "sig": digest}


def parse(raw: bytes) -> tuple[TerminalMessage, dict[str, Any]]:
    """Parses a message (not yet verified); returns it and the raw JSON object it came from."""
    if len(raw) > MAX_MESSAGE_BYTES:
        raise InvalidInput(f"message is {len(raw)} bytes; the limit is {MAX_MESSAGE_BYTES}")
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as err:
        raise InvalidInput(f"message is not JSON: {err}") from None
    except RecursionError:
        raise InvalidInput("message nests too deeply") from None
    if not isinstance(document, dict):
        raise InvalidInput("message must be a JSON object")
    try:
        return TerminalMessage.model_validate(document), document
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise InvalidInput(f"message field {where}: {first['msg']}") from None


def verify(document: dict[str, Any], *, secret: str) -> str:
    """Checks the signature of the raw JSON object; returns its digest (the message's identity)."""
    expected: str = sign(document, secret=secret)["sig"]
    if not same_digest(expected, str(document.get("sig", ""))):
        raise BadSignature("signature does not match the terminal's secret")
    return expected


def ack(
    *, terminal_id: str, seq: int, status: str, secret: str, incident_id: str | None = None
) -> dict[str, Any]:
    """Server→device acknowledgement of message `seq` (status: accepted, duplicate, refused)."""
    body: dict[str, Any] = {
        "v": PROTOCOL_VERSION,
        "type": "ack",
        "terminal_id": terminal_id,
        "seq": seq,
        "status": status,
    }
    if incident_id is not None:
        body["incident_id"] = incident_id
    return sign(body, secret=secret)


def notice(
    *, terminal_id: str, notice_id: str, kind: str, text: str, secret: str
) -> dict[str, Any]:
    """Server→device notice shown silently to the wearer; the device answers `notice_ack`."""
    if kind not in NOTICE_KINDS:
        raise InvalidInput(f"notice kind must be one of {', '.join(NOTICE_KINDS)}")
    return sign(
        {
            "v": PROTOCOL_VERSION,
            "type": "notice",
            "terminal_id": terminal_id,
            "notice_id": notice_id,
            "kind": kind,
            "text": text,
            "silent": True,
        },
        secret=secret,
    )


def config(
    *, terminal_id: str, reporting_interval_s: int, config_version: int, secret: str
) -> dict[str, Any]:
    """Server→device configuration the terminal must apply and echo in its heartbeats."""
    return sign(
        {
            "v": PROTOCOL_VERSION,
            "type": "config",
            "terminal_id": terminal_id,
            "config_version": config_version,
            "reporting_interval_s": reporting_interval_s,
        },
        secret=secret,
    )
