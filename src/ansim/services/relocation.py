"""Carrier re-location: asking the caller's carrier where the caller is now (HELD, RFC 5985).

For a one-touch or unknown caller with only network location, or an app SOS without a fix, the
dispatcher asks (`do_relocate_caller`), and a policy asks again every 30 s while the incident is
open (durable deadline `incident.relocate`, stopping when it is cancelled or closed). Each
request is audited (it collects personal data); each answer's locations are fixes into the
track. A server that is down or slow, or an answer that is malformed or about another number,
is recorded and logged and the incident goes on: the board says "re-location failed".
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ansim.domain.errors import Conflict, InvalidInput, NotFound
from ansim.domain.fixes import LocationFix
from ansim.domain.incidents import Channel, Incident, IncidentStatus
from ansim.intake.held import (
    CallerLocator,
    HeldFailed,
    HeldRefused,
    HttpLocator,
    LocationServer,
    fixes_of_answer,
)
from ansim.security import audit
from ansim.services import incidents, location
from ansim.services.platform import Platform, transaction
from ansim.store import deadlines, outbox
from ansim.store.deadlines import Deadline
from ansim.store.tables import carriers, idempotency_keys, relocations

log = logging.getLogger(__name__)

RELOCATE_KIND = "incident.relocate"
RELOCATE_EVERY = timedelta(seconds=30)
# A cancelled or false alarm is still "active" for the board, but nobody is to be located.
_STOPPED = frozenset({IncidentStatus.CANCELLED, IncidentStatus.FALSE_ALARM})


def is_open(incident: Incident) -> bool:
    """Whether the caller may still be located: active, not cancelled, not a false alarm."""
    return incident.is_active and incident.status not in _STOPPED


@dataclass(frozen=True, slots=True)
class Relocation:
    """What one request came to: located (with how many fixes), failed or refused."""

    incident_id: str
    carrier_id: str
    requested_at: datetime
    outcome: str
    fixes: int
    detail: str


def set_location_server(
    session: Session, *, carrier_id: str, server: LocationServer | None
) -> None:
    """Stores (or clears) a carrier's location server; the password is encrypted at rest."""
    if server is not None and not server.url.startswith(("https://", "http://")):
        raise InvalidInput("location server URL must be http(s)")
    result = session.execute(
        carriers.update()
        .where(carriers.c.id == carrier_id)
        .values(
            lis_url=server.url if server else None,
            lis_username=server.username if server else None,
            lis_password=server.password if server else None,
        )
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        raise NotFound(f"no carrier {carrier_id}")


def do_set_location_server(
    platform: Platform,
    *,
    carrier_id: str,
    server: LocationServer | None,
    actor: str | audit.Actor,
    session: Session | None = None,
) -> None:
    """Sets (or clears) a carrier's location server; audited, the password never in the log."""
    who = actor if isinstance(actor, audit.Actor) else audit.Actor(name=actor, role="system")
    with transaction(platform, session) as tx:
        set_location_server(tx, carrier_id=carrier_id, server=server)
        audit.record(
            tx,
            actor=who,
            action="carrier.location_server",
            at=platform.now(),
            subject=f"carrier:{carrier_id}",
            detail={
                "url": server.url if server else None,
                "username": server.username if server else None,
            },
        )


def location_server(session: Session, *, carrier_id: str) -> LocationServer | None:
    row = session.execute(
        sa.select(carriers.c.lis_url, carriers.c.lis_username, carriers.c.lis_password).where(
            carriers.c.id == carrier_id, carriers.c.disabled.is_(False)
        )
    ).first()
    if row is None or not row.lis_url:
        return None
    return LocationServer(row.lis_url, row.lis_username, row.lis_password)


def carrier_of(session: Session, *, incident_id: str) -> str | None:
    """The carrier that reported the incident's call, or the only carrier with a location server."""
    scopes = session.execute(
        sa.select(idempotency_keys.c.scope).where(
            idempotency_keys.c.incident_id == incident_id,
            idempotency_keys.c.scope.like("carrier:%"),
        )
    ).scalars()
    for scope in scopes:
        return str(scope).split(":", 1)[1]
    with_server = list(
        session.execute(
            sa.select(carriers.c.id).where(
                carriers.c.lis_url.is_not(None), carriers.c.disabled.is_(False)
            )
        ).scalars()
    )
    return with_server[0] if len(with_server) == 1 else None


def do_relocate_caller(
    platform: Platform,
    *,
    incident_id: str,
    actor: str | audit.Actor,
    locator: CallerLocator | None = None,
    firing_deadline: str | None = None,
    session: Session | None = None,
) -> Relocation:
    """Asks the caller's carrier for a fresh location; fixes go into the track, all is audited.

    Raises NotFound for no such incident, Conflict when the incident has no caller number, no
    carrier location server is known or it is no longer open. A failing server or a bad answer
    is no error: it is recorded (outcome failed / refused) and returned. `firing_deadline` is
    the policy deadline being fired (the scheduler marks it fired; the next one is new).

    Given a session (the policy deadline's claim transaction), the request to the server runs
    inside it, bounded by the client's timeout (10 s).
    """
    who = actor if isinstance(actor, audit.Actor) else audit.Actor(name=actor, role="system")
    with transaction(platform, session) as tx:
        incident = incidents.get(tx, incident_id=incident_id)
        number, carrier_id, server = _target(tx, incident)
    requested_at = platform.now()
    outcome, detail, fixes = _ask(
        locator or HttpLocator(), server, number, requested_at, carrier_id
    )
    with transaction(platform, session) as tx:
        incident = incidents.get(tx, incident_id=incident_id, for_update=True)
        if fixes:
            try:
                verdicts = location.add_fixes(
                    tx, incident=incident, fixes=fixes, received_at=platform.now()
                )
                accepted = sum(v.accepted for v in verdicts)
                detail = f"{accepted} of {len(fixes)} fixes taken in"
            except InvalidInput as err:  # impossible next to the track: refused, incident goes on
                outcome, detail, fixes = "refused", f"fix refused: {err}", []
        tx.execute(
            relocations.insert().values(
                incident_id=incident_id,
                carrier_id=carrier_id,
                requested_at=requested_at,
                outcome=outcome,
                fixes=len(fixes),
                detail=detail[:500],
            )
        )
        audit.record(
            tx,
            actor=who,
            action="location.relocate",
            at=requested_at,
            incident_id=incident_id,
            subject=f"carrier:{carrier_id}",
            detail={"outcome": outcome, "fixes": len(fixes), "detail": detail[:200]},
        )
        outbox.emit(
            tx,
            "incident.relocated",
            {
                "incident_id": incident_id,
                "carrier_id": carrier_id,
                "outcome": outcome,
                "fixes": len(fixes),
                "requested_at": requested_at,
            },
            at=requested_at,
            incident_id=incident_id,
        )
        if is_open(incident):
            _ask_again(tx, incident_id, at=requested_at, firing=firing_deadline)
    if outcome != "located":
        log.warning("re-location of incident %s %s: %s", incident_id, outcome, detail)
    return Relocation(incident_id, carrier_id, requested_at, outcome, len(fixes), detail)


def start_policy(session: Session, *, incident: Incident, at: datetime) -> bool:
    """At a new SOS: re-locate now and every 30 s when the caller's fix will not do — a one-touch
    or unknown caller (network location at best) or an app SOS without a fix — and the caller's
    carrier has a location server. In the SOS's transaction; a problem here never refuses it."""
    try:
        with session.begin_nested():  # a failure here rolls back to the SOS, never past it
            return _start_policy(session, incident, at)
    except Exception:  # a secondary problem never refuses an SOS
        log.exception("re-location policy not started for incident %s", incident.id)
        return False


def _start_policy(session: Session, incident: Incident, at: datetime) -> bool:
    if not incident.caller_number or not is_open(incident):
        return False
    weak = incident.channel == Channel.ONE_TOUCH or incident.unknown_caller or incident.lat is None
    carrier_id = carrier_of(session, incident_id=incident.id)
    if not weak or carrier_id is None:
        return False
    if location_server(session, carrier_id=carrier_id) is None:
        return False
    if deadlines.pending(session, kind=RELOCATE_KIND, subject_id=incident.id):
        return False
    deadlines.schedule(session, kind=RELOCATE_KIND, subject_id=incident.id, due_at=at, at=at)
    return True


def _ask_again(session: Session, incident_id: str, *, at: datetime, firing: str | None) -> None:
    """One pending policy deadline, 30 s from this request (a manual request resets it)."""
    for pending in deadlines.pending(session, kind=RELOCATE_KIND, subject_id=incident_id):
        if pending.id != firing:
            deadlines.cancel(session, kind=RELOCATE_KIND, subject_id=incident_id, at=at)
            break
    deadlines.schedule(
        session, kind=RELOCATE_KIND, subject_id=incident_id, due_at=at + RELOCATE_EVERY, at=at
    )


def _target(session: Session, incident: Incident) -> tuple[str, str, LocationServer]:
    if not is_open(incident):
        raise Conflict(f"incident {incident.id} is {incident.status}: no re-location")
    if not incident.caller_number:
        raise Conflict(f"incident {incident.id} has no caller number to locate")
    carrier_id = carrier_of(session, incident_id=incident.id)
    server = location_server(session, carrier_id=carrier_id) if carrier_id else None
    if carrier_id is None or server is None:
        raise Conflict("no carrier location server is known for this caller")
    return incident.caller_number, carrier_id, server


def _ask(
    locator: CallerLocator,
    server: LocationServer,
    number: str,
    at: datetime,
    carrier_id: str,
) -> tuple[str, str, list[LocationFix]]:
    """(outcome, detail, fixes) of one request; never raises for the far side's faults."""
    try:
        body = locator(server, number)
        fixes = fixes_of_answer(body, number=number, received_at=at, source=f"held:{carrier_id}")
    except HeldRefused as err:
        return "refused", str(err), []
    except HeldFailed as err:
        return "failed", str(err), []
    return "located", f"{len(fixes)} fixes", list(fixes)


def on_relocate_deadline(platform: Platform, locator: CallerLocator | None = None) -> Any:
    """The policy's handler: asks again while the incident is open; stops when it is not.

    The request to the carrier (up to the client's timeout) never runs in the claim transaction:
    on SQLite that would hold the one write lock, and every SOS behind it, while a slow server
    thinks. The next ask is re-armed in the claim transaction (durable: a crash during the
    request loses that one answer, never the policy); the request leaves after the commit, on a
    small pool of its own, and records its answer in transactions of its own.
    """

    def fire(session: Session, deadline: Deadline, now: datetime) -> None:
        incident = session.get(Incident, deadline.subject_id)
        if incident is None or not is_open(incident):
            return  # cancelled or closed: the policy stops here
        try:
            _target(session, incident)
        except Conflict as err:  # no server any more: stop asking
            log.info("re-location policy for %s stops: %s", deadline.subject_id, err)
            return
        _ask_again(session, incident.id, at=now, firing=deadline.id)
        incident_id = incident.id

        def ask() -> None:
            try:
                do_relocate_caller(
                    platform, incident_id=incident_id, actor=audit.SYSTEM, locator=locator
                )
            except (Conflict, NotFound) as err:  # closed in the meantime
                log.info("re-location of %s not asked: %s", incident_id, err)
            except Exception:  # a worker thread: log, never lose the scheduler
                log.exception("re-location of incident %s failed", incident_id)

        sa.event.listen(session, "after_commit", lambda _s: _submit(ask), once=True)

    return fire


_REQUESTS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="relocate")
_in_flight: set[Future[None]] = set()
_in_flight_lock = threading.Lock()


def _submit(ask: Callable[[], None]) -> None:
    future = _REQUESTS.submit(ask)
    with _in_flight_lock:
        _in_flight.add(future)
    future.add_done_callback(_forget)


def _forget(future: Future[None]) -> None:
    with _in_flight_lock:
        _in_flight.discard(future)


def wait_for_requests(timeout_s: float = 30.0) -> None:
    """Waits for the policy's requests in flight (tests and the simulation's virtual time)."""
    with _in_flight_lock:
        pending = list(_in_flight)
    wait(pending, timeout=timeout_s)


def latest(session: Session, *, incident_id: str) -> Relocation | None:
    """The incident's most recent re-location, for the board."""
    row = session.execute(
        sa.select(relocations)
        .where(relocations.c.incident_id == incident_id)
        .order_by(relocations.c.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    return Relocation(
        row.incident_id, row.carrier_id, row.requested_at, row.outcome, row.fixes, row.detail
    )
