"""Every 112 app request is signed by its install (ansim.security.signing, the app's scheme v2).

The bearer credential says which install; the signature proves the request came from the phone
holding its secret just now, for this method and path. A credential alone (read from a proxy log
or a phone backup) neither sends an SOS nor reads the person's profile, and a captured signed
request is good for its own route only.

The path checked is the one the phone signed: the ASGI `raw_path` (the bytes of the request line,
not the decoded `path`) and the raw query string. A reverse proxy must pass the request line
unchanged (deploy/nginx/ansim.conf's `proxy_pass` without a URI does). One that strips a prefix
needs the server's ASGI `root_path` set to it: uvicorn then puts the prefix in `raw_path` itself,
and for a server that does not it is added here, so `/ansim/api/v1/app/sos` as the phone signed it
is what is checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request
from starlette.types import Scope

from ansim.api.auth import AppInstall, get_context
from ansim.domain.people import ChannelBinding
from ansim.security.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, app_headers, verify_app

__all__ = ["SignedInstall", "SosSenderDep", "app_signed_headers", "signed_target"]


def app_signed_headers(
    credential: str, *, method: str, target: str, body: bytes, at: datetime
) -> dict[str, str]:
    """The headers of `method target` the app signs at `at` (tests, benchmarks and the CLI)."""
    return app_headers(credential, method=method, target=target, body=body, at=at)


def signed_target(scope: Scope) -> str:
    """The path and query string as the client sent them (and signed them)."""
    raw: bytes = scope.get("raw_path") or quote(scope["path"]).encode()
    root: bytes = scope.get("root_path", "").encode()
    if root and not raw.startswith(root):
        raw = root + raw
    query: bytes = scope.get("query_string", b"")
    return (raw + b"?" + query if query else raw).decode("latin-1")


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
    # "v1": signed by an app page from before the signing upgrade (an SOS only; flagged).
    old_scheme: str | None = None


async def _verify(request: Request, install: ChannelBinding, *, sos: bool) -> SosSender:
    context = get_context(request)
    verified = verify_app(
        # The server keeps the digest of the install's secret, which is the app's HMAC key.
        install.credential_hash.encode(),
        method=request.method,
        target=signed_target(request.scope),
        timestamp=request.headers.get(TIMESTAMP_HEADER),
        signature=request.headers.get(SIGNATURE_HEADER),
        body=await request.body(),
        now=context.now(),
        window=context.settings.signature_window,
        sos=sos,
    )
    return SosSender(
        install,
        verified.signature,
        verified.signed_at,
        verified.skew,
        verified.skew_note(),
        verified.old_scheme,
    )


async def require_signed(request: Request, install: AppInstall) -> ChannelBinding:
    return (await _verify(request, install, sos=False)).install


async def sos_sender(request: Request, install: AppInstall) -> SosSender:
    # An authentic SOS from a device with a wrong clock is taken (flagged); its idempotency key
    # (or, without one, its signature) stops a replay from counting twice.
    return await _verify(request, install, sos=True)


SignedInstall = Annotated[ChannelBinding, Depends(require_signed)]
SosSenderDep = Annotated[SosSender, Depends(sos_sender)]
