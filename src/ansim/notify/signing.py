"""HMAC signatures for the SMS gateway webhook, both ways: our requests and its delivery reports."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta

from ansim.domain.errors import Forbidden

SIGNATURE_HEADER = "X-Ansim-Signature"
TIMESTAMP_HEADER = "X-Ansim-Timestamp"
# A captured request replayed later than this is refused.
TOLERANCE = timedelta(minutes=5)


def signature(secret: bytes, timestamp: str, body: bytes) -> str:
    """`v1=` + hex HMAC-SHA256 over `<timestamp>.<raw body>`."""
    mac = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def signed_headers(secret: bytes, body: bytes, *, now: datetime) -> dict[str, str]:
    timestamp = str(int(now.timestamp()))
    return {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: signature(secret, timestamp, body)}


def check(
    secret: bytes, *, timestamp: str | None, sent: str | None, body: bytes, now: datetime
) -> None:
    """Raises Forbidden unless `sent` signs `body` at a `timestamp` close to `now`."""
    if not secret:
        raise Forbidden("delivery reports are refused: no gateway secret is configured")
    if not timestamp or not sent or not timestamp.isdigit():
        raise Forbidden("missing signature or timestamp header")
    if abs(now.timestamp() - int(timestamp)) > TOLERANCE.total_seconds():
        raise Forbidden("signature timestamp is too old or in the future")
    if not hmac.compare_digest(sent, signature(secret, timestamp, body)):
        raise Forbidden("bad signature")
