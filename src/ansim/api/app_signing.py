"""Signed app requests: HMAC-SHA256 of `<timestamp>.<body>` keyed by the install's derived key."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
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


async def _check(request: Request, install: ChannelBinding, *, required: bool) -> ChannelBinding:
    signature = request.headers.get(SIGNATURE_HEADER)
    if signature is None and not required:
        return install
    timestamp = request.headers.get(TIMESTAMP_HEADER, "")
    if not signature or not timestamp.isdigit():
        raise HTTPException(401, "signed request needs X-Ansim-Timestamp and X-Ansim-Signature")
    now = get_context(request).now()
    if abs(now - datetime.fromtimestamp(int(timestamp), UTC)) > MAX_SKEW:
        raise HTTPException(401, "X-Ansim-Timestamp is too far from server time")
    body = await request.body()
    expected = hmac.new(
        install.credential_hash.encode(), timestamp.encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    if not hmac.compare_digest(expected, signature.lower()):
        raise HTTPException(401, "X-Ansim-Signature does not match the body")
    return install


async def require_signed(request: Request, install: AppInstall) -> ChannelBinding:
    return await _check(request, install, required=True)


async def check_signed_if_present(request: Request, install: AppInstall) -> ChannelBinding:
    return await _check(request, install, required=False)


SignedInstall = Annotated[ChannelBinding, Depends(require_signed)]
MaybeSignedInstall = Annotated[ChannelBinding, Depends(check_signed_if_present)]
