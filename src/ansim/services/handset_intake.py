"""Handset locations pushed by the network (AML SMS, Android ELS): one command for both channels."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from ansim.domain.fixes import LocationFix
from ansim.services import carriers, handset
from ansim.services.platform import Platform, transaction


@dataclass(frozen=True)
class HandsetOutcome:
    accepted: bool
    reason: str = ""
    incident_id: str | None = None


def do_receive_handset_fix(
    platform: Platform,
    *,
    channel: str,
    caller_number: str | None,
    imei: str | None,
    fix: LocationFix,
    replay_scope: str | None = None,
    digest: str | None = None,
    session: Session | None = None,
) -> HandsetOutcome:
    """Attaches the fix to the caller's incident, or keeps it for the call that follows.

    With `replay_scope`, a signed delivery seen before is refused as a replay (reason "replayed").
    An unusable fix raises InvalidInput (the route answers the protocol's 2xx discard).
    """
    at = platform.now()
    with transaction(platform, session) as tx:
        seen = replay_scope is not None and digest is not None
        if seen and not carriers.first_sighting(
            tx, scope=replay_scope or "", digest=digest or "", at=at
        ):
            return HandsetOutcome(accepted=False, reason="replayed")
        incident_id = handset.attach_or_keep(
            tx, channel=channel, caller_number=caller_number, imei=imei, fix=fix, received_at=at
        )
    return HandsetOutcome(accepted=True, incident_id=incident_id)
