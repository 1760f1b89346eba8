"""Signed, expiring, single-incident links for guardians and school guards (HMAC, compact for SMS)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from ansim.domain.deliveries import RecipientKind
from ansim.domain.errors import Forbidden, InvalidInput

_VERSION = 1
_KINDS = {RecipientKind.GUARDIAN: b"g", RecipientKind.SCHOOL_GUARD: b"s"}
_LAYOUT = struct.Struct(
    ">Bc16s16sI"
)  # version, kind, incident uuid, recipient uuid, expiry (unix s)
_MAC_BYTES = 16
_CONTEXT = b"ansim guardian link v1\x00"


class LinkExpired(Forbidden):
    """A genuine link past its expiry."""


@dataclass(frozen=True)
class GuardianLink:
    incident_id: str
    recipient_id: str
    recipient_kind: RecipientKind
    expires_at: datetime


def sign(link: GuardianLink, key: bytes) -> str:
    """The URL-safe token for `link` (72 characters: short enough for one SMS)."""
    try:
        payload = _LAYOUT.pack(
            _VERSION,
            _KINDS[link.recipient_kind],
            uuid.UUID(link.incident_id).bytes,
            uuid.UUID(link.recipient_id).bytes,
            int(link.expires_at.timestamp()),
        )
    except ValueError as error:
        raise InvalidInput(f"cannot sign a guardian link: {error}") from None
    return base64.urlsafe_b64encode(payload + _mac(payload, key)).rstrip(b"=").decode()


def verify(token: str, key: bytes, *, now: datetime) -> GuardianLink:
    """The link a token stands for; Forbidden when forged or malformed, LinkExpired when old."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        raise Forbidden("not a valid link") from None
    payload, mac = raw[: _LAYOUT.size], raw[_LAYOUT.size :]
    if len(raw) != _LAYOUT.size + _MAC_BYTES or not hmac.compare_digest(mac, _mac(payload, key)):
        raise Forbidden("not a valid link")
    version, kind, incident, recipient, expires = _LAYOUT.unpack(payload)
    kinds = {code: name for name, code in _KINDS.items()}
    if version != _VERSION or kind not in kinds:
        raise Forbidden("not a valid link")
    expires_at = datetime.fromtimestamp(expires, UTC)
    if now >= expires_at:
        raise LinkExpired("this link has expired; call 112 if you are worried")
    return GuardianLink(
        incident_id=str(uuid.UUID(bytes=incident)),
        recipient_id=str(uuid.UUID(bytes=recipient)),
        recipient_kind=kinds[kind],
        expires_at=expires_at,
    )


def _mac(payload: bytes, key: bytes) -> bytes:
    return hmac.new(key, _CONTEXT + payload, hashlib.sha256).digest()[:_MAC_BYTES]
