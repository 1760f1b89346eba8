"""Every 112 app request is signed by its install (ansim.security.signing, the timestamped scheme).

The bearer credential says which install; the signature proves the request came from the phone
holding its secret just now. A credential alone (read from a proxy log or a phone backup) neither
sends an SOS nor reads the person's profile.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import Depends, Request

from ansim.api.auth import AppInstall, get_context
from ansim.domain.people import ChannelBinding
from ansim.security.signing import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    app_headers,
    app_key,
    timestamped_signature,
    verify_timestamped,
)

__all__ = ["SignedInstall", "SosSenderDep", "app_signature", "app_signed_headers"]


def app_signature(credential: str, *, timestamp: str, body: bytes) -> str:
    """What the app puts in X-Ansim-Signature (tests and the CLI use this; the PWA does the same)."""
    _install, _, secret = credential.partition(".")
    return timestamped_signature(app_key(secret), timestamp=timestamp, body=body)


def app_signed_headers(credential: str, *, body: bytes, at: datetime) -> dict[str, str]:
    """The headers of a request the app signs at `at` (tests, benchmarks and the CLI)."""
    return app_headers(credential, body=body, at=at)


@dataclass(frozen=True)
class SosSender:
    """Who sent an SOS, and what its signature says of the device's clock."""

    install: ChannelBinding
    signature: str
    # The device's send time (X-Ansim-Timestamp): the clock a fix is re-timed by.
    sent_at: datetime
    # Set when the signature's time was outside the replay window but the signature was good.
    skew: timedelta | None = None
    skew_note: str | None = None


async def _verify(request: Request, install: ChannelBinding, *, sos: bool) -> SosSender:
    context = get_context(request)
    verified = verify_timestamped(
        # The server keeps the digest of the install's secret, which is the app's HMAC key.
        install.credential_hash.encode(),
        timestamp=request.headers.get(TIMESTAMP_HEADER),
        signature=request.headers.get(SIGNATURE_HEADER),
        body=await request.body(),
        now=context.now(),
        window=context.settings.signature_window,
        sos=sos,
        signer="the install's secret",
    )
    return SosSender(
        install, verified.signature, verified.signed_at, verified.skew, verified.skew_note()
    )


async def require_signed(request: Request, install: AppInstall) -> ChannelBinding:
    return (await _verify(request, install, sos=False)).install


async def sos_sender(request: Request, install: AppInstall) -> SosSender:
    # An authentic SOS from a device with a wrong clock is taken (flagged); its idempotency key
    # (or, without one, its signature) stops a replay from counting twice.
    return await _verify(request, install, sos=True)


SignedInstall = Annotated[ChannelBinding, Depends(require_signed)]
SosSenderDep = Annotated[SosSender, Depends(sos_sender)]
