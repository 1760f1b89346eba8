"""Request signatures of carriers and SMS centres: HMAC-SHA256 over the timestamp and the body."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

from ansim.domain.errors import InvalidInput

# A signed request older or newer than this is refused, so a captured one cannot be replayed later.
MAX_SKEW = timedelta(minutes=5)
CARRIER_HEADER = "x-ansim-carrier"
TIMESTAMP_HEADER = "x-ansim-timestamp"
SIGNATURE_HEADER = "x-ansim-signature"


class BadRequestSignature(InvalidInput):
    """The signature, its timestamp or the signer is wrong (HTTP 401)."""


def request_signature(*, secret: str, timestamp: str, body: bytes) -> str:
    """Hex HMAC-SHA256 of `<timestamp>.<body>` with the shared secret."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def signed_time(timestamp: str) -> datetime:
    try:
        return datetime.fromtimestamp(int(timestamp), UTC)
    except (ValueError, OverflowError, OSError):
        raise BadRequestSignature("timestamp must be Unix seconds") from None


def check_request_signature(
    *,
    secret: str,
    timestamp: str,
    body: bytes,
    signature: str,
    now: datetime,
    skew_ok: bool = False,
) -> str:
    """Verifies a signed request; returns the signature (the request's identity for replay checks).

    `skew_ok` takes an authentic request whatever its time (an SOS: its call id stops replays).
    """
    signed_at = signed_time(timestamp)
    if abs(now - signed_at) > MAX_SKEW and not skew_ok:
        raise BadRequestSignature(
            f"timestamp is {abs(now - signed_at).total_seconds():.0f} s away from server time"
        )
    expected = request_signature(secret=secret, timestamp=timestamp, body=body)
    if not hmac.compare_digest(expected, signature.lower()):
        raise BadRequestSignature("signature does not match the body and the carrier's secret")
    return expected


def signed_headers(*, carrier_id: str, secret: str, body: bytes, at: datetime) -> dict[str, str]:
    """The headers a carrier sends (used by tests, the simulator and integrators' examples)."""
    timestamp = str(int(at.timestamp()))
    return {
        CARRIER_HEADER: carrier_id,
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: request_signature(secret=secret, timestamp=timestamp, body=body),
    }
