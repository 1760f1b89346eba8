"""Carriers (and their SMS centres) that may call the one-touch gateway, and replay memory."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ansim.domain.errors import Conflict, InvalidInput
from ansim.security.signing import SignatureRefused, Verified, verify_timestamped
from ansim.store.tables import carriers, seen_signatures

# Twice the longest ANSIM_SIGNATURE_WINDOW_S allowed (1 h).
FORGET_AFTER = timedelta(hours=2)


def register(session: Session, *, carrier_id: str, name: str, at: datetime) -> str:
    """Registers a carrier and returns its new shared secret (shown once)."""
    if not carrier_id.replace("-", "").replace("_", "").isalnum() or len(carrier_id) > 50:
        raise InvalidInput("carrier id must be letters, digits, - or _ (at most 50)")
    exists = session.execute(sa.select(carriers.c.id).where(carriers.c.id == carrier_id)).first()
    if exists:
        raise Conflict(f"carrier {carrier_id} is already registered")
    secret = secrets.token_urlsafe(32)
    session.execute(
        carriers.insert().values(id=carrier_id, name=name, secret=secret, created_at=at)
    )
    return secret


def authenticate(
    session: Session,
    *,
    carrier_id: str,
    timestamp: str,
    body: bytes,
    signature: str,
    at: datetime,
    window: timedelta,
    sos: bool = False,
) -> Verified:
    """Checks a carrier-signed request (an SOS is taken outside the replay window, flagged)."""
    secret = session.execute(
        sa.select(carriers.c.secret).where(
            carriers.c.id == carrier_id, carriers.c.disabled.is_(False)
        )
    ).scalar_one_or_none()
    if secret is None:
        raise SignatureRefused(f"unknown or disabled carrier {carrier_id!r} (X-Ansim-Carrier)")
    return verify_timestamped(
        secret.encode(),
        timestamp=timestamp,
        body=body,
        signature=signature,
        now=at,
        window=window,
        sos=sos,
        signer="the carrier's secret",
    )


def first_sighting(session: Session, *, scope: str, digest: str, at: datetime) -> bool:
    """Remembers a signed request; False when it was seen already (a replay)."""
    seen = session.execute(
        sa.select(seen_signatures.c.at).where(
            seen_signatures.c.scope == scope, seen_signatures.c.digest == digest
        )
    ).first()
    if seen is not None:
        return False
    # Beyond twice the longest replay window a signature is refused on its timestamp: forget it.
    session.execute(seen_signatures.delete().where(seen_signatures.c.at < at - FORGET_AFTER))
    session.execute(seen_signatures.insert().values(scope=scope, digest=digest, at=at))
    return True
