"""Command handlers that span services; each owns exactly one transaction."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ansim.services import handset, incidents, lifecycle, relocation
from ansim.services.incidents import SosOutcome, SosReport
from ansim.services.platform import Platform, transaction

AUTO_DISPATCHER = lifecycle.AUTO_DISPATCHER


def do_receive_sos(
    platform: Platform, *, report: SosReport, session: Session | None = None
) -> SosOutcome:
    """Commits the SOS (and, dispatch first, the orders its rule asks for) before anyone is told.

    A new incident is dispatched per policy or marked waiting with a durable retry (no fix yet,
    no unit free); an SOS after a cancel, false alarm or close opens a new incident linked to it.
    """
    for attempt in range(2):
        try:
            with transaction(platform, session) as tx:
                outcome = incidents.receive_sos(
                    tx, report=report, merge_window=platform.merge_window
                )
                if not outcome.replayed:
                    # An AML/ELS fix may have come a few seconds before the carrier's call.
                    handset.claim_pending(tx, incident=outcome.incident, at=report.received_at)
                if outcome.created:
                    lifecycle.after_new_sos(
                        tx, platform=platform, incident=outcome.incident, at=report.received_at
                    )
                    # Ask the carrier where a network-located caller is (never refuses the SOS).
                    relocation.start_policy(tx, incident=outcome.incident, at=report.received_at)
            return outcome
        except IntegrityError:
            # A concurrent retry with the same idempotency key committed first; the next pass finds it.
            if attempt == 1 or session is not None:
                raise
    raise AssertionError("unreachable")
