"""Terminal heartbeats in batches: one transaction for many devices (the command form of group commit).

A city's 100,000 terminals at a 60 s interval send about 1,667 heartbeats a second; a durable
transaction each would cost more than the box has. `do_record_heartbeats` stores a batch in one
transaction. Each message is parsed before the transaction and checked (signature, sequence)
before anything of its terminal changes, so a bad message is refused on its own without a
SAVEPOINT (PostgreSQL's subtransaction cache overflows past 64 per transaction) and the others
commit. "Stored" means what supervision needs is durable when the reply is sent: last-seen time,
battery, signal, sequence, and the moved `terminal.heartbeat` deadline (a row per heartbeat is
not kept). The same rule as a single message applies (`terminals.record_heard`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ansim.domain.errors import DomainError, InvalidInput
from ansim.domain.terminals import Terminal
from ansim.intake import terminal_protocol as protocol
from ansim.intake.terminal_protocol import TerminalMessage
from ansim.services import terminals
from ansim.services.platform import Platform, transaction
from ansim.store.tables import terminals as terminals_table


@dataclass(frozen=True)
class HeartbeatOutcome:
    """The signed replies for one message, or why it was refused (the rest of the batch stands)."""

    replies: list[dict[str, Any]]
    refused: DomainError | None = None


def do_record_heartbeats(
    platform: Platform,
    *,
    batch: Sequence[bytes],
    at: datetime | None = None,
    session: Session | None = None,
) -> list[HeartbeatOutcome]:
    """Stores a batch of heartbeats in one transaction; one outcome per message, in batch order.

    The actor of each change is its terminal (the message's own verified identity).
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
            # Locked in id order, whatever the batch order: two batches never deadlock.
            ids = sorted({message.terminal_id for _, message, _ in parsed})
            found = tx.execute(
                sa.select(Terminal)
                .where(terminals_table.c.id.in_(ids))
                .order_by(terminals_table.c.id)
                .with_for_update()
                .execution_options(populate_existing=True)
            ).scalars()
            by_id = {terminal.id: terminal for terminal in found}
            for index, message, document in parsed:
                outcomes[index] = _apply(tx, by_id.get(message.terminal_id), message, document, at)
    return [
        o if o is not None else HeartbeatOutcome([], InvalidInput("not processed"))
        for o in outcomes
    ]


def _apply(
    session: Session,
    terminal: Terminal | None,
    message: TerminalMessage,
    document: dict[str, Any],
    at: datetime,
) -> HeartbeatOutcome:
    try:
        if terminal is None or terminal.disabled:
            raise terminals.UnknownTerminal(f"no enrolled terminal {message.terminal_id}")
        digest = protocol.verify(document, secret=terminal.secret)
        # Checked before any change: a refused message leaves its terminal as it was.
        duplicate = terminal.accept_sequence(message.seq, digest)
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
    terminals.record_heard(session, terminal, message, at)
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
