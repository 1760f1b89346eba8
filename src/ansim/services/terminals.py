"""U-안심 terminals: enrolment, the signed message flow and heartbeat supervision."""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ansim.domain.errors import Conflict, InvalidInput, NotFound
from ansim.domain.fixes import FixMethod, LocationFix
from ansim.domain.incidents import OPEN_STATUSES, Channel, Incident
from ansim.domain.terminals import Heard, Sequencing, Terminal, check_interval, note_heard
from ansim.intake import terminal_protocol as protocol
from ansim.intake.clock_skew import settle_fix
from ansim.intake.terminal_protocol import TerminalMessage
from ansim.services import alerts, incidents, people, terminal_notices
from ansim.services.app_accounts import PinVerdict
from ansim.services.cancel import do_cancel_with_pin
from ansim.services.handlers import IntakeFlag, do_receive_sos
from ansim.services.incidents import SosReport
from ansim.services.platform import Platform, transaction
from ansim.store import deadlines, outbox
from ansim.store.deadlines import Deadline
from ansim.store.tables import idempotency_keys, incident_events
from ansim.store.tables import incidents as incidents_table
from ansim.store.tables import terminals as terminals_table

HEARTBEAT_KIND = "terminal.heartbeat"
# Terminals report fixes at one standard deviation unless they say otherwise.
TERMINAL_CONFIDENCE = 0.68
# A cancel refers to the wearer's open incident, else to their latest this recent (any state).
CANCEL_REACH = timedelta(hours=1)


class UnknownTerminal(NotFound):
    """No enrolled, enabled terminal has this id."""


def enrol(
    session: Session,
    *,
    terminal_id: str,
    subscriber_id: str,
    reporting_interval_s: int,
    actor: str,
    at: datetime,
) -> str:
    """Enrols a terminal for a person and returns its secret (shown once, written to the device)."""
    check_interval(reporting_interval_s)
    people.get_subscriber(session, subscriber_id=subscriber_id)
    if session.get(Terminal, terminal_id) is not None:
        raise Conflict(f"terminal {terminal_id} is already enrolled")
    secret = secrets.token_urlsafe(32)
    terminal = Terminal(
        id=terminal_id,
        subscriber_id=subscriber_id,
        secret=secret,
        reporting_interval_s=reporting_interval_s,
        enrolled_at=at,
        enrolled_by=actor,
    )
    session.add(terminal)
    people.bind(
        session, subscriber_id=subscriber_id, channel=Channel.TERMINAL, address=terminal_id, at=at
    )
    session.flush()
    _supervise(session, terminal, at)
    return secret


def set_interval(
    session: Session, *, terminal_id: str, reporting_interval_s: int, at: datetime
) -> Terminal:
    """Changes the reporting interval; the device gets a `config` with its next heartbeat."""
    check_interval(reporting_interval_s)
    terminal = get(session, terminal_id=terminal_id)
    terminal.reporting_interval_s = reporting_interval_s
    terminal.config_version += 1
    _supervise(session, terminal, terminal.last_seen_at or at)
    return terminal


def get(session: Session, *, terminal_id: str, for_update: bool = False) -> Terminal:
    terminal = session.get(Terminal, terminal_id, with_for_update=for_update)
    if terminal is None or terminal.disabled:
        raise UnknownTerminal(f"no enrolled terminal {terminal_id}")
    return terminal


def list_for(session: Session, *, subscriber_id: str | None = None) -> list[Terminal]:
    query = sa.select(Terminal).order_by(terminals_table.c.id)
    if subscriber_id is not None:
        query = query.where(terminals_table.c.subscriber_id == subscriber_id)
    return list(session.execute(query).scalars())


def do_receive_message(
    platform: Platform,
    *,
    raw: bytes,
    at: datetime | None = None,
    session: Session | None = None,
) -> list[dict[str, Any]]:
    """Verifies and applies one terminal message; returns the signed replies (ack, maybe config).

    The sequence number moves in the transaction of the message's effect: if the effect fails,
    the number is not spent and a byte-identical retry is applied (docs/terminal-protocol.md).
    """
    at = at or platform.now()
    message, document = protocol.parse(raw)
    fixes, flags = _fixes(message, at)
    with transaction(platform, session) as tx:
        terminal = get(tx, terminal_id=message.terminal_id, for_update=True)
        digest = protocol.verify(document, secret=terminal.secret)
        secret, subscriber_id = terminal.secret, terminal.subscriber_id
        sos = message.type == "sos"
        if sos and (done := _sos_incident(tx, message)) is not None:
            return [_ack(message, secret, "duplicate", done)]
        sequencing = terminal.judge_sequence(message.seq, digest, sos=sos)
        if sequencing is Sequencing.DUPLICATE and not sos:
            return [_ack(message, secret, "duplicate")]
        if sequencing is Sequencing.LATE_SOS:
            flags.append(
                IntakeFlag("out_of_order", f"SOS seq {message.seq} came after {terminal.last_seq}")
            )
        _heard(tx, terminal, message, at)
        if sos:
            incident_id = _receive_sos(platform, tx, message, subscriber_id, fixes, flags, at)
            return [_ack(message, secret, "accepted", incident_id)]
        if message.type == "cancel":
            return [_cancel(platform, tx, message, secret, subscriber_id, at)]
        replies: list[dict[str, Any]] = [_ack(message, secret, "accepted")]
        if message.type == "heartbeat" and message.config_version != terminal.config_version:
            replies.append(
                protocol.config(
                    terminal_id=terminal.id,
                    reporting_interval_s=terminal.reporting_interval_s,
                    config_version=terminal.config_version,
                    secret=secret,
                )
            )
        if message.type == "location":
            _attach_fixes(tx, subscriber_id, fixes, at, platform.merge_window)
        if message.type == "notice_ack":
            if message.notice_id is None:
                raise InvalidInput("a notice_ack must carry the notice_id it acknowledges")
            # An unknown notice raises here and rolls back the whole message, sequence included.
            terminal_notices.record_ack(
                tx, terminal_id=terminal.id, notice_id=message.notice_id, at=at
            )
        return replies


def _receive_sos(
    platform: Platform,
    session: Session,
    message: TerminalMessage,
    subscriber_id: str,
    fixes: list[LocationFix],
    flags: list[IntakeFlag],
    at: datetime,
) -> str:
    """The SOS in the message's transaction; should its fix still fail, it is taken without it."""
    report = SosReport(
        channel=Channel.TERMINAL,
        received_at=at,
        source=f"terminal:{message.terminal_id}",
        subscriber_id=subscriber_id,
        fix=fixes[-1] if fixes else None,
        idempotency_scope=f"terminal:{message.terminal_id}",
        idempotency_key=str(message.seq),
    )
    try:
        with session.begin_nested():
            outcome = do_receive_sos(
                platform, report=report, sent_at=message.sent_at, flags=flags, session=session
            )
    except InvalidInput as err:
        if report.fix is None:
            raise
        flags = [*flags, IntakeFlag("fix_dropped", str(err)[:200])]
        outcome = do_receive_sos(
            platform, report=replace(report, fix=None), flags=flags, session=session
        )
    return outcome.incident.id


def do_fire_heartbeat_deadline(
    platform: Platform, *, deadline: Deadline, at: datetime, session: Session | None = None
) -> None:
    """A terminal stayed silent past its interval and grace: tell its admins and guardians.

    The scheduler holds the deadline row here, and a heartbeat locks the terminal before it moves
    that deadline (ansim.store.locks): a terminal locked right now is being heard from, so it is
    skipped, never waited for (its message schedules the next deadline, as this one has fired).
    """
    with transaction(platform, session) as tx:
        terminal = tx.get(
            Terminal,
            deadline.subject_id,
            with_for_update={"skip_locked": True},
            populate_existing=True,
        )
        if terminal is None or terminal.disabled or terminal.lost:
            return
        terminal.lost = True
        announce(tx, "terminal.lost", terminal, at)
        alerts.notify_guardians_of_terminal_problem(
            tx,
            subscriber_id=terminal.subscriber_id,
            kind="terminal_lost",
            at=at,
            min_interval=platform.verification.terminal_notice_interval,
        )


def _sos_incident(session: Session, message: TerminalMessage) -> str | None:
    incident_id: str | None = session.execute(
        sa.select(idempotency_keys.c.incident_id).where(
            idempotency_keys.c.scope == f"terminal:{message.terminal_id}",
            idempotency_keys.c.key == str(message.seq),
        )
    ).scalar_one_or_none()
    return incident_id


def _heard(session: Session, terminal: Terminal, message: TerminalMessage, at: datetime) -> None:
    hear(session, terminal, message, at)
    _supervise(session, terminal, at)


def hear(session: Session, terminal: Heard, message: TerminalMessage, at: datetime) -> None:
    """Notes a message from `terminal` (`note_heard`) and announces what it changed for the board
    (rare: a terminal back from lost, or its battery running low)."""
    events = note_heard(
        terminal, at=at, signal_dbm=message.signal_dbm, battery_pct=message.battery_pct
    )
    for kind in events:
        announce(session, kind, terminal, at)


def _supervise(session: Session, terminal: Terminal, at: datetime) -> None:
    deadlines.move(
        session,
        kind=HEARTBEAT_KIND,
        subject_id=terminal.id,
        due_at=terminal.supervision_due(at),
        at=at,
    )


class Supervised(Protocol):
    """What a supervision event tells of a terminal (its row, or a heartbeat batch's copy of it)."""

    @property
    def id(self) -> str: ...
    @property
    def subscriber_id(self) -> str: ...
    @property
    def last_seen_at(self) -> datetime | None: ...
    @property
    def battery_pct(self) -> int | None: ...


def announce(session: Session, kind: str, terminal: Supervised, at: datetime) -> None:
    """A supervision event (lost, recovered, low battery) of `terminal` for the board."""
    supervision_event(
        session,
        kind,
        terminal_id=terminal.id,
        subscriber_id=terminal.subscriber_id,
        last_seen_at=terminal.last_seen_at,
        battery_pct=terminal.battery_pct,
        at=at,
    )


def supervision_event(
    session: Session,
    kind: str,
    *,
    terminal_id: str,
    subscriber_id: str,
    last_seen_at: datetime | None,
    battery_pct: int | None,
    at: datetime,
) -> None:
    """A terminal's supervision change (lost, recovered, low battery) for the boards and admins."""
    outbox.emit(
        session,
        kind,
        {
            "terminal_id": terminal_id,
            "subscriber_id": subscriber_id,
            "last_seen_at": last_seen_at,
            "battery_pct": battery_pct,
        },
        at=at,
    )


def _fixes(message: TerminalMessage, at: datetime) -> tuple[list[LocationFix], list[IntakeFlag]]:
    """The message's usable fixes in time order; an impossible one is dropped and flagged."""
    fixes: list[LocationFix] = []
    flags = [IntakeFlag("fix_dropped", problem) for problem in message.unusable_fixes]
    for fix in ([message.fix] if message.fix else []) + list(message.fixes):
        try:
            taken = LocationFix.with_confidence(
                lat=fix.lat,
                lon=fix.lon,
                radius_m=fix.accuracy_m,
                confidence=TERMINAL_CONFIDENCE,
                method=FixMethod(fix.method),
                observed_at=fix.at,
                source=f"terminal:{message.terminal_id}",
            )
        except ValueError as err:  # InvalidInput too
            flags.append(IntakeFlag("fix_dropped", str(err)[:200]))
            continue
        settled = settle_fix(taken, received_at=at, sent_at=message.sent_at)
        if settled.flag is not None:
            flags.append(IntakeFlag(settled.flag, settled.detail))
        fixes.append(settled.fix)
    return sorted(fixes, key=lambda fix: fix.observed_at), flags


def _open_incident(
    session: Session, subscriber_id: str, at: datetime, window: timedelta
) -> Incident | None:
    return session.execute(
        sa.select(Incident)
        .where(
            incidents_table.c.subscriber_id == subscriber_id,
            incidents_table.c.status.in_(OPEN_STATUSES),
            incidents_table.c.received_at >= at - window,
        )
        # The one the person still calls for help in before one they cancelled with a PIN (a
        # duress incident stays open for the police; a press after it opened a new one).
        .order_by(incidents_table.c.person_cancelled, incidents_table.c.received_at.desc())
        .limit(1)
    ).scalar_one_or_none()


def _attach_fixes(
    session: Session, subscriber_id: str, fixes: list[LocationFix], at: datetime, window: timedelta
) -> None:
    incident = _open_incident(session, subscriber_id, at, window)
    if incident is None:
        return  # no SOS open: a walk is tracked only while someone may need help
    incidents.add_fixes(session, incident=incident, fixes=fixes, received_at=at)


def _cancel(
    platform: Platform,
    session: Session,
    message: TerminalMessage,
    secret: str,
    subscriber_id: str,
    at: datetime,
) -> dict[str, Any]:
    if message.pin is None:
        raise InvalidInput("a cancel must carry the wearer's PIN")
    incident = _latest_incident(
        session, subscriber_id, at, max(platform.merge_window, CANCEL_REACH)
    )
    if incident is None:
        return _ack(message, secret, "no_incident")
    verdict = do_cancel_with_pin(
        platform,
        incident_id=incident.id,
        subscriber_id=subscriber_id,
        pin=message.pin,
        actor=f"terminal:{message.terminal_id}",
        session=session,
    )
    status = "refused" if verdict is PinVerdict.WRONG else "cancelled"
    return _ack(message, secret, status, incident.id)


def _latest_incident(
    session: Session, subscriber_id: str, at: datetime, window: timedelta
) -> Incident | None:
    """The person's latest incident in the window, whatever its state: the SOS the device sent last.

    As the app's cancel names its own incident, a terminal's cancel is for its latest press (not an
    older case a dispatcher re-opened); it then answers alike in every state.
    """
    # The time of each incident's last press (its first, or a repeat that joined it).
    last_press = (
        sa.select(sa.func.max(incident_events.c.at))
        .where(
            incident_events.c.incident_id == incidents_table.c.id,
            incident_events.c.kind.in_(("received", "sos_repeated")),
        )
        .correlate(incidents_table)
        .scalar_subquery()
    )
    return session.execute(
        sa.select(Incident)
        .where(
            incidents_table.c.subscriber_id == subscriber_id,
            incidents_table.c.received_at >= at - window,
        )
        .order_by(
            last_press.desc(),
            # In a tie: an open case before a finished one, then the later, then the one not yet
            # cancelled with a PIN (the press made after such a cancel).
            sa.case((incidents_table.c.status.in_(OPEN_STATUSES), 0), else_=1),
            incidents_table.c.received_at.desc(),
            incidents_table.c.person_cancelled,
        )
        .limit(1)
    ).scalar_one_or_none()


def _ack(
    message: TerminalMessage, secret: str, status: str, incident_id: str | None = None
) -> dict[str, Any]:
    return protocol.ack(
        terminal_id=message.terminal_id,
        seq=message.seq,
        status=status,
        secret=secret,
        incident_id=incident_id,
    )
