"""Command handlers that span services; each owns exactly one transaction."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.exc import IntegrityError

from ansim.domain.dispatch_policy import DispatchPolicy
from ansim.services import dispatch_flow, handset, incidents, relocation, verification
from ansim.services.incidents import SosOutcome, SosReport
from ansim.services.ranking import UnitRanker
from ansim.services.verification_config import VerificationConfig
from ansim.store.uow import UnitOfWork

AUTO_DISPATCHER = "auto-dispatch"


def do_receive_sos(
    uow: UnitOfWork,
    *,
    report: SosReport,
    ranker: UnitRanker,
    merge_window: timedelta,
    auto_dispatch: bool,
    policy: DispatchPolicy | None = None,
    verify: VerificationConfig | None = None,
) -> SosOutcome:
    """Commits the SOS (and, dispatch first, the orders its rule asks for) before anyone is told."""
    policy = policy or DispatchPolicy()
    for attempt in range(2):
        try:
            with uow.begin() as session:
                outcome = incidents.receive_sos(session, report=report, merge_window=merge_window)
                if not outcome.replayed:
                    # An AML/ELS fix may have come a few seconds before the carrier's call.
                    handset.claim_pending(session, incident=outcome.incident, at=report.received_at)
                if outcome.created and auto_dispatch:
                    dispatch_flow.dispatch_per_policy(
                        session,
                        incident=outcome.incident,
                        ranker=ranker,
                        policy=policy,
                        actor=AUTO_DISPATCHER,
                        at=report.received_at,
                    )
                if outcome.created:  # ask the carrier where a network-located caller is
                    relocation.start_policy(
                        session, incident=outcome.incident, at=report.received_at
                    )
                if outcome.created and verify is not None:
                    verification.after_sos(
                        session, incident=outcome.incident, config=verify, at=report.received_at
                    )
            return outcome
        except IntegrityError:
            # A concurrent retry with the same idempotency key committed first; the next pass finds it.
            if attempt == 1:
                raise
    raise AssertionError("unreachable")
