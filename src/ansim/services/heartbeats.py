"""Terminal heartbeats in batches: one transaction for many devices (the command form of group commit).

A city's 100,000 terminals at a 60 s interval send about 1,667 heartbeats a second; a durable
transaction each would cost more than the box has. `do_record_heartbeats` stores a batch in one
transaction. Each message is parsed before the transaction and checked (signature, sequence)
before anything of its terminal changes, so a bad message is refused on its own without a
SAVEPOINT (PostgreSQL's subtransaction cache overflows past 64 per transaction) and the others
commit. "Stored" means what supervision needs is durable when the reply is sent: last-seen time,
battery, signal, sequence, and the moved `terminal.heartbeat` deadline (a row per heartbeat is
not kept). The same rules as a single message apply (`terminals.do_receive_message`): the
sequence (`domain.terminals.judge`), the battery flag, supervision moved to interval plus grace.

The batch is written through SQLAlchemy Core, not the ORM (issue 15's profile: per-message ORM
flushes were most of a heartbeat's cost): one SELECT ... FOR UPDATE reads the batch's terminals
with their pending supervision deadline, and two executemany UPDATEs (pipelined by psycopg, one
C loop in sqlite3) write the terminals and move the deadlines, whatever the batch's size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ansim.domain.errors import DomainError, InvalidInput
from ansim.domain.terminals import Sequencing, judge, supervision_due
from ansim.intake import terminal_protocol as protocol
from ansim.intake.terminal_protocol import TerminalMessage
from ansim.services import terminals
from ansim.services.platform import Platform, transaction
from ansim.store import deadlines as deadline_store
from ansim.store.tables import deadlines
from ansim.store.tables import terminals as terminals_table


@dataclass(frozen=True)
class HeartbeatOutcome:
    """The signed replies for one message, or why it was refused (the rest of the batch stands)."""

    replies: list[dict[str, Any]]
    refused: DomainError | None = None


@dataclass
class _Heard:
    """One terminal as its row stands in this batch: read once, changed by each of its messages."""

    id: str
    subscriber_id: str
    secret: str
    disabled: bool
    reporting_interval_s: int
    config_version: int
    last_seq: int
    last_digest: str
    last_seen_at: datetime | None
    battery_pct: int | None
    signal_dbm: int | None
    low_battery: bool
    lost: bool
    deadline_id: str | None
    heard: bool = False


_T = terminals_table.c
_PENDING = sa.and_(
    deadlines.c.kind == terminals.HEARTBEAT_KIND,
    deadlines.c.subject_id == _T.id,
    deadlines.c.fired_at.is_(None),
    deadlines.c.cancelled_at.is_(None),
)
# Terminals locked in id order, whatever the batch order: two batches never deadlock. Only the
# terminals' rows are locked (the lock order of ansim.store.locks: terminal, then its deadline).
_READ = (
    sa.select(
        _T.id,
        _T.subscriber_id,
        _T.secret,
        _T.disabled,
        _T.reporting_interval_s,
        _T.config_version,
        _T.last_seq,
        _T.last_digest,
        _T.last_seen_at,
        _T.battery_pct,
        _T.signal_dbm,
        _T.low_battery,
        _T.lost,
        deadlines.c.id.label("deadline_id"),
    )
    .select_from(terminals_table.outerjoin(deadlines, _PENDING))
    .where(_T.id.in_(sa.bindparam("ids", expanding=True)))
    .order_by(_T.id)
    .with_for_update(of=terminals_table)
)
_WRITE_TERMINAL = (
    terminals_table.update()
    .where(_T.id == sa.bindparam("b_id"))
    .values(
        last_seq=sa.bindparam("b_last_seq"),
        last_digest=sa.bindparam("b_last_digest"),
        last_seen_at=sa.bindparam("b_last_seen_at", type_=_T.last_seen_at.type),
        battery_pct=sa.bindparam("b_battery_pct"),
        signal_dbm=sa.bindparam("b_signal_dbm"),
        low_battery=sa.bindparam("b_low_battery"),
        lost=sa.bindparam("b_lost"),
    )
)
# Still pending when written: a deadline the scheduler fired meanwhile is not moved (a new one is
# scheduled instead, as `deadlines.move` does for one terminal).
_MOVE_DEADLINE = (
    deadlines.update()
    .where(
        deadlines.c.id == sa.bindparam("b_id"),
        deadlines.c.fired_at.is_(None),
        deadlines.c.cancelled_at.is_(None),
    )
    .values(due_at=sa.bindparam("b_due_at", type_=deadlines.c.due_at.type))
)


def do_record_heartbeats(
    platform: Platform,
    *,
    batch: Sequence[bytes],
    at: datetime | None = None,
    session: Session | None = None,
) -> list[HeartbeatOutcome]:
    """Stores a batch of heartbeats in one transaction; one outcome per message, in batch order.

    The actor of each change is its terminal (the message's own verified identity). Written
    through Core: a Terminal the caller's `session` already holds is not refreshed by it.
    """
    at = at or platform.now()
    outcomes: list[HeartbeatOutcome | None] = [None] * len(batch)
    parsed: list[tuple[int, TerminalMessage, dict[str, Any]]] = []
    for index, raw in enumerate(batch):
        try:
            message, document = protocol.parse(raw)
            if message.type != "heartbeat":
                raise InvalidInput(f"a {message.type} message is not a heartbeat")
            parsed.append((index, message, document))
        except DomainError as error:
            outcomes[index] = HeartbeatOutcome([], error)
    if parsed:
        with transaction(platform, session) as tx:
            ids = sorted({message.terminal_id for _, message, _ in parsed})
            by_id = {row.id: _Heard(**row._asdict()) for row in tx.execute(_READ, {"ids": ids})}
            for index, message, document in parsed:
                outcomes[index] = _apply(tx, by_id.get(message.terminal_id), message, document, at)
            _write(tx, [heard for heard in by_id.values() if heard.heard], at)
    return [
        o if o is not None else HeartbeatOutcome([], InvalidInput("not processed"))
        for o in outcomes
    ]


def _apply(
    session: Session,
    terminal: _Heard | None,
    message: TerminalMessage,
    document: dict[str, Any],
    at: datetime,
) -> HeartbeatOutcome:
    try:
        if terminal is None or terminal.disabled:
            raise terminals.UnknownTerminal(f"no enrolled terminal {message.terminal_id}")
        digest = protocol.verify(document, secret=terminal.secret)
        # Judged before any change: a refused message leaves its terminal as it was.
        duplicate = (
            judge(terminal.last_seq, terminal.last_digest, message.seq, digest, sos=False)
            is Sequencing.DUPLICATE
        )
    except DomainError as error:
        return HeartbeatOutcome([], error)
    ack = protocol.ack(
        terminal_id=terminal.id,
        seq=message.seq,
        status="duplicate" if duplicate else "accepted",
        secret=terminal.secret,
    )
    if duplicate:
        return HeartbeatOutcome([ack])
    _heard(session, terminal, message, digest, at)
    replies = [ack]
    if message.config_version != terminal.config_version:
        replies.append(
            protocol.config(
                terminal_id=terminal.id,
                reporting_interval_s=terminal.reporting_interval_s,
                config_version=terminal.config_version,
                secret=terminal.secret,
            )
        )
    return HeartbeatOutcome(replies)


def _heard(
    session: Session, terminal: _Heard, message: TerminalMessage, digest: str, at: datetime
) -> None:
    """A single message's rule (`terminals.hear`) on the batch's copy of the row (written once,
    in `_write`)."""
    terminal.heard = True
    terminal.last_seq, terminal.last_digest = message.seq, digest
    terminals.hear(session, terminal, message, at)


def _write(session: Session, heard: list[_Heard], at: datetime) -> None:
    """Writes the heard terminals and moves their supervision: two executemany UPDATEs."""
    if not heard:
        return
    session.execute(
        _WRITE_TERMINAL,
        [
            {
                "b_id": t.id,
                "b_last_seq": t.last_seq,
                "b_last_digest": t.last_digest,
                "b_last_seen_at": t.last_seen_at,
                "b_battery_pct": t.battery_pct,
                "b_signal_dbm": t.signal_dbm,
                "b_low_battery": t.low_battery,
                "b_lost": t.lost,
            }
            for t in heard
        ],
    )
    pending = [t for t in heard if t.deadline_id is not None]
    moved = 0
    if pending:
        result = session.execute(
            _MOVE_DEADLINE,
            [
                {"b_id": t.deadline_id, "b_due_at": supervision_due(t.reporting_interval_s, at)}
                for t in pending
            ],
        )
        moved = int(result.rowcount)  # type: ignore[attr-defined]  # summed over the rows
    if moved == len(pending) and len(pending) == len(heard):
        return
    # Rare: a terminal without a pending deadline (lost before), or one fired meanwhile.
    for t in heard:
        deadline_store.move(
            session,
            kind=terminals.HEARTBEAT_KIND,
            subject_id=t.id,
            due_at=supervision_due(t.reporting_interval_s, at),
            at=at,
        )
