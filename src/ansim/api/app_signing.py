"""Signed app requests: HMAC-SHA256 of `<timestamp>.<body>` keyed by the install's derived key."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from ansim.api.auth import AppInstall, get_context
from ansim.domain.people import ChannelBinding
from ansim.intake.signing import MAX_SKEW

SIGNATURE_HEADER = "x-ansim-signature"
TIMESTAMP_HEADER = "x-ansim-timestamp"


def signing_key(secret: str) -> bytes:
    """The install's HMAC key: hex SHA-256 of its secret (the server keeps only this digest)."""
    return hashlib.sha256(secret.encode()).hexdigest().encode()


def app_signature(credential: str, *, timestamp: str, body: bytes) -> str:
    """What the app puts in X-Ansim-Signature (tests and the CLI use this; the PWA does the same)."""
    _install, _, secret = credential.partition(".")
    return hmac.new(
        signing_key(secret), timestamp.encode() + b"." + body, hashlib.sha256
    ).hexdigest()


def app_signed_headers(credential: str, *, body: bytes, at: datetime) -> dict[str, str]:
    """The headers of a request the app signs at `at` (tests, benchmarks and the CLI)."""
    timestamp = str(int(at.timestamp()))
    return {
        "Authorization": f"Bearer {credential}",
        "X-Ansim-Timestamp": timestamp,
        "X-Ansim-Signature": app_signature(credential, timestamp=timestamp, body=body),
    }


@dataclass(frozen=True)
class SosSender:
    """Who sent an SOS, and what its signature says of the device's clock."""

    install: ChannelBinding
    signature: str | None = None
    # The device's send time (X-Ansim-Timestamp) when signed: the clock a fix is re-timed by.
    sent_at: datetime | None = None
    # Set when the signature's time was outside the replay window but the signature was good.
    skew: timedelta | None = None


async def _check(
    request: Request, install: ChannelBinding, *, required: bool, skew_ok: bool = False
) -> SosSender:
    signature = request.headers.get(SIGNATURE_HEADER)
    if signature is None and not required:
        return SosSender(install)
    timestamp = request.headers.get(TIMESTAMP_HEADER, "")
    if not signature or not timestamp.isdigit() or len(timestamp) > 11:
        raise HTTPException(401, "signed request needs X-Ansim-Timestamp and X-Ansim-Signature")
    now = get_context(request).now()
    sent_at = datetime.fromtimestamp(int(timestamp), UTC)
    skew = sent_at - now
    if abs(skew) > MAX_SKEW and not skew_ok:
        raise HTTPException(401, "X-Ansim-Timestamp is too far from server time")
    body = await request.body()
    expected = hmac.new(
        install.credential_hash.encode(), timestamp.encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    if not hmac.compare_digest(expected, signature.lower()):
        raise HTTPException(401, "X-Ansim-Signature does not match the body")
    # An authentic SOS from a device with a wrong clock is taken; its idempotency key (or, without
    # one, its signature) stops a replay from counting twice. Every other request keeps the window.
    return SosSender(install, expected, sent_at, skew if abs(skew) > MAX_SKEW else None)


async def require_signed(request: Request, install: AppInstall) -> ChannelBinding:
    return (await _check(request, install, required=True)).install


async def check_signed_if_present(request: Request, install: AppInstall) -> ChannelBinding:
    return (await _check(request, install, required=False)).install


async def sos_sender(request: Request, install: AppInstall) -> SosSender:
    return await _check(request, install, required=False, skew_ok=True)


SignedInstall = Annotated[ChannelBinding, Depends(require_signed)]
MaybeSignedInstall = Annotated[ChannelBinding, Depends(check_signed_if_present)]
SosSenderDep = Annotated[SosSender, Depends(sos_sender)]
