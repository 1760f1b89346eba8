"""The SOS command: every channel's press for help goes through `do_receive_sos`."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ansim.domain.errors import InvalidInput
from ansim.domain.incidents import IncidentEvent
from ansim.intake.clock_skew import settle_fix
from ansim.services import handset, incidents, lifecycle, relocation
from ansim.services.incidents import SosOutcome, SosReport
from ansim.services.platform import Platform, transaction
from ansim.store import outbox

AUTO_DISPATCHER = lifecycle.AUTO_DISPATCHER
log = logging.getLogger("ansim.intake")


@dataclass(frozen=True)
class IntakeFlag:
    """Something wrong with an SOS that did not stop it: kept on the incident's timeline."""

    kind: str  # fix_retimed, fix_time_unknown, fix_dropped, signature_clock_skew, out_of_order
    detail: str = ""


def do_receive_sos(
    platform: Platform,
    *,
    report: SosReport,
    sent_at: datetime | None = None,
    flags: Sequence[IntakeFlag] = (),
    session: Session | None = None,
) -> SosOutcome:
    """Commits the SOS (and, dispatch first, the orders its rule asks for) before anyone is told.

    A new incident is dispatched per policy or marked waiting with a durable retry (no fix yet,
    no unit free); an SOS after a cancel, false alarm or close opens a new incident linked to it.
    The actor is the report's source. `sent_at` is the device's own send time, from which a fix
    stamped in the future is re-timed. Nothing secondary refuses the SOS: a fix that still cannot
    be taken is dropped and flagged, and the press is kept.
    """
    report, flags = _settle(report, sent_at, list(flags))
    if session is not None:
        return _receive(platform, session, report, flags)
    for attempt in range(3):
        try:
            with transaction(platform) as own:
                return _receive(platform, own, report, flags)
        except IntegrityError:
            # A concurrent retry with the same idempotency key committed first; the next pass finds it.
            if attempt == 2:
                raise
        except InvalidInput as err:
            if report.fix is None:
                raise
            log.warning("SOS from %s kept without its fix: %s", report.source, err)
            flags = [*flags, IntakeFlag("fix_dropped", str(err)[:200])]
            report = dataclasses.replace(report, fix=None)
    raise AssertionError("unreachable")


def _settle(
    report: SosReport, sent_at: datetime | None, flags: list[IntakeFlag]
) -> tuple[SosReport, list[IntakeFlag]]:
    if report.fix is None:
        return report, flags
    settled = settle_fix(report.fix, received_at=report.received_at, sent_at=sent_at)
    if settled.flag is not None:
        flags = [*flags, IntakeFlag(settled.flag, settled.detail)]
    return dataclasses.replace(report, fix=settled.fix), flags


def _receive(
    platform: Platform, session: Session, report: SosReport, flags: list[IntakeFlag]
) -> SosOutcome:
    outcome = incidents.receive_sos(session, report=report, merge_window=platform.merge_window)
    if not outcome.replayed:
        # An AML/ELS fix may have come a few seconds before the carrier's call.
        handset.claim_pending(session, incident=outcome.incident, at=report.received_at)
        if flags:
            _flag(session, outcome.incident.id, report, flags)
    if outcome.created:
        lifecycle.after_new_sos(
            session, platform=platform, incident=outcome.incident, at=report.received_at
        )
        # Ask the carrier where a network-located caller is (never refuses the SOS).
        relocation.start_policy(session, incident=outcome.incident, at=report.received_at)
    return outcome


def _flag(session: Session, incident_id: str, report: SosReport, flags: list[IntakeFlag]) -> None:
    data = {"flags": [{"kind": f.kind, "detail": f.detail} for f in flags]}
    outbox.record(
        session,
        IncidentEvent(incident_id, "intake_flagged", report.received_at, report.source, data),
        "incident.intake_flagged",
        {"incident_id": incident_id, "channel": report.channel.value, **data},
    )
