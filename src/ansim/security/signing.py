"""Request signing, every scheme in one place: the HMAC primitives and one refusal.

Four parties sign what they send us, each in its own wire format because the far side fixed it:

- **timestamped requests** — carriers and the SMS gateway (both ways) sign
  `<unix seconds>.<raw body>` with HMAC-SHA256, sent as `X-Ansim-Timestamp` and `X-Ansim-Signature`
  (the gateway's value carries a `v1=` prefix, so a second scheme can follow). Each of them has
  one route, so the body alone says what the request is.
- **the 112 app** calls many routes, several with the same body (every read and every DELETE has
  an empty one), so its scheme v2 also binds the method and the path with its query string:
  HMAC-SHA256 over `v2\nMETHOD\n/path?query\n<unix seconds>\n<hex sha256(body)>`, sent as
  `X-Ansim-Signature: v2=<hex>`. A signed GET of the installs list cannot be replayed as the
  DELETE of an install. The PWA ships with the server, so nothing older is accepted.

A request signed further than the replay window (`ANSIM_SIGNATURE_WINDOW_S`, 5 min) from our clock
is refused, so a captured request cannot be sent again later — except an SOS: an authentic SOS from
a phone or a switch with a wrong clock is taken and flagged, and its idempotency key (or call id,
or the signature itself) stops a replay from counting twice.
- **terminals** sign the canonical JSON of each message (`intake.terminal_protocol`), and
- **Android ELS** appends an HMAC-SHA1 of the form (`intake.formats.els`); both use `hmac_hex` and
  `same_digest` from here.

Whatever the scheme, a refused signature is `SignatureRefused`: HTTP 401 with the reason in the
body (`{"detail": ...}`), so an integrator sees what to fix and nothing is half-applied.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from ansim.domain.errors import DomainError

TIMESTAMP_HEADER = "X-Ansim-Timestamp"
SIGNATURE_HEADER = "X-Ansim-Signature"
CARRIER_HEADER = "X-Ansim-Carrier"
# The default of ANSIM_SIGNATURE_WINDOW_S; the one setting every timestamped scheme uses.
DEFAULT_WINDOW = timedelta(minutes=5)
GATEWAY_PREFIX = "v1="
APP_SCHEME = "v2"


class SignatureRefused(DomainError):
    """A signature, its timestamp or its signer is wrong (HTTP 401, the reason in the body)."""


def hmac_hex(key: bytes, message: bytes, digest: Callable[[], Any] = hashlib.sha256) -> str:
    """Hex HMAC of `message` (SHA-256 unless the wire format says otherwise)."""
    return hmac.new(key, message, digest).hexdigest()


def same_digest(expected: str | bytes, sent: str | bytes) -> bool:
    """Constant-time comparison of hex digests, case-insensitive on the sent side."""
    if isinstance(expected, str):
        expected = expected.encode()
    if isinstance(sent, str):
        sent = sent.encode("ascii", "replace")
    return hmac.compare_digest(expected, sent.lower())


# --- the timestamped scheme (carriers, SMS gateway, app) ---


def timestamped_signature(key: bytes, *, timestamp: str, body: bytes, prefix: str = "") -> str:
    """`prefix` + hex HMAC-SHA256 over `<timestamp>.<body>`."""
    return prefix + hmac_hex(key, timestamp.encode() + b"." + body)


def timestamped_headers(
    key: bytes, *, body: bytes, at: datetime, prefix: str = ""
) -> dict[str, str]:
    """The X-Ansim-Timestamp and X-Ansim-Signature of a request signed at `at`."""
    timestamp = str(int(at.timestamp()))
    return {
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: timestamped_signature(key, timestamp=timestamp, body=body, prefix=prefix),
    }


def signed_time(timestamp: str | None) -> datetime:
    """The time of X-Ansim-Timestamp (Unix seconds), or a refusal saying what is wrong with it."""
    if not timestamp:
        raise SignatureRefused(f"{TIMESTAMP_HEADER} is missing")
    if not timestamp.isdigit() or len(timestamp) > 11:
        raise SignatureRefused(f"{TIMESTAMP_HEADER} must be Unix seconds")
    return datetime.fromtimestamp(int(timestamp), UTC)


@dataclass(frozen=True)
class Verified:
    """An authentic request: its signature (its identity for replay checks) and its clock."""

    signature: str
    signed_at: datetime
    # Set when the request was signed outside the window and taken anyway (an SOS).
    skew: timedelta | None = None
    # Set when an SOS came signed with the app's previous scheme and was taken anyway.
    old_scheme: str | None = None

    def skew_note(self) -> str | None:
        """The text of a `signature_clock_skew` intake flag, or None for a good clock."""
        if self.skew is None:
            return None
        return f"signed {self.skew.total_seconds():+.0f} s from server time"


def verify_timestamped(
    key: bytes,
    *,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    now: datetime,
    window: timedelta,
    sos: bool = False,
    prefix: str = "",
    signer: str = "the signer's secret",
) -> Verified:
    """Checks a timestamped request; `sos` takes an authentic one outside the window (flagged).

    The signature is checked before the time, so a forger learns nothing from the clock answer.
    """
    if not signature:
        raise SignatureRefused(f"{SIGNATURE_HEADER} is missing: every request must be signed")
    signed_at = signed_time(timestamp)
    assert timestamp is not None  # signed_time refused an empty one
    expected = timestamped_signature(key, timestamp=timestamp, body=body, prefix=prefix)
    if not same_digest(expected, signature):
        raise SignatureRefused(f"{SIGNATURE_HEADER} does not match the body and {signer}")
    return _in_window(expected, signed_at, now=now, window=window, sos=sos)


def _in_window(
    expected: str, signed_at: datetime, *, now: datetime, window: timedelta, sos: bool
) -> Verified:
    skew = signed_at - now
    if abs(skew) <= window:
        return Verified(expected, signed_at)
    if not sos:
        raise SignatureRefused(
            f"{TIMESTAMP_HEADER} is {abs(skew).total_seconds():.0f} s from server time "
            f"(the window is {window.total_seconds():.0f} s); sign with the current time"
        )
    return Verified(expected, signed_at, skew)


# --- the parties' keys and headers ---


def carrier_headers(*, carrier_id: str, secret: str, body: bytes, at: datetime) -> dict[str, str]:
    """What a carrier sends (tests, the simulator and integrators' examples)."""
    return {CARRIER_HEADER: carrier_id, **timestamped_headers(secret.encode(), body=body, at=at)}


def gateway_headers(secret: bytes, body: bytes, *, at: datetime) -> dict[str, str]:
    """Our requests to the SMS gateway and its delivery reports to us (`v1=` signatures)."""
    return timestamped_headers(secret, body=body, at=at, prefix=GATEWAY_PREFIX)


def app_key(secret: str) -> bytes:
    """An app install's HMAC key: hex SHA-256 of its secret (the server keeps only this digest)."""
    return hashlib.sha256(secret.encode()).hexdigest().encode()


def app_signed_string(*, method: str, target: str, timestamp: str, body: bytes) -> bytes:
    """What an app request signs (v2): method, path with query as sent, time, body digest."""
    digest = hashlib.sha256(body).hexdigest()
    return "\n".join((APP_SCHEME, method.upper(), target, timestamp, digest)).encode()


def app_signature(key: bytes, *, method: str, target: str, timestamp: str, body: bytes) -> str:
    """The hex HMAC-SHA256 of the v2 signed string (without the `v2=` of the header)."""
    signed = app_signed_string(method=method, target=target, timestamp=timestamp, body=body)
    return hmac_hex(key, signed)


def app_headers(
    credential: str, *, method: str, target: str, body: bytes, at: datetime
) -> dict[str, str]:
    """What the 112 app sends for `method target` with `body` at `at` (client.js does the same).

    `target` is the path and query string exactly as the request line carries them.
    """
    _install, _, secret = credential.partition(".")
    timestamp = str(int(at.timestamp()))
    signature = app_signature(
        app_key(secret), method=method, target=target, timestamp=timestamp, body=body
    )
    return {
        "Authorization": f"Bearer {credential}",
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: f"{APP_SCHEME}={signature}",
    }


def verify_app(
    key: bytes,
    *,
    method: str,
    target: str,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    now: datetime,
    window: timedelta,
    sos: bool = False,
) -> Verified:
    """Checks an app request (v2 only: no older scheme, so a body-only signature never passes)."""
    if not signature:
        raise SignatureRefused(f"{SIGNATURE_HEADER} is missing: every request must be signed")
    scheme, equals, sent = signature.partition("=")
    if sos and not equals:
        # An app page loaded before the upgrade still signs v1 (timestamp and body). Its SOS is
        # taken, flagged: never refused for a software version. v1 binds no route, but only an
        # SOS body passes this route's model, and the signature is the press's identity.
        verified = verify_timestamped(
            key,
            timestamp=timestamp,
            signature=signature.strip(),
            body=body,
            now=now,
            window=window,
            sos=True,
            signer="the install's secret",
        )
        return replace(verified, old_scheme="v1")
    if not equals or scheme.strip().lower() != APP_SCHEME:
        raise SignatureRefused(
            f"{SIGNATURE_HEADER} must be {APP_SCHEME}=<hex HMAC-SHA256 of "
            f"'{APP_SCHEME}\\nMETHOD\\n/path?query\\ntimestamp\\nsha256(body)'>; "
            "no other scheme is accepted from the app"
        )
    signed_at = signed_time(timestamp)
    assert timestamp is not None  # signed_time refused an empty one
    expected = app_signature(key, method=method, target=target, timestamp=timestamp, body=body)
    if not same_digest(expected, sent.strip()):
        raise SignatureRefused(
            f"{SIGNATURE_HEADER} does not match the method, the path ({target}), the body "
            "and the install's secret"
        )
    return _in_window(expected, signed_at, now=now, window=window, sos=sos)
