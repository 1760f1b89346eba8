"""Row and key locks of write transactions, and the one order every command takes them in.

PostgreSQL writers run concurrently (there is no cluster-wide writer lock; SQLite keeps one writer
at a time, so these are no-ops there). A transaction that needs several locks takes them in this
order, and never the other way round, so two commands can wait for each other but never deadlock:

1. the person (`person`: an advisory lock on the subscriber or the caller number), before looking
   for their open incident, so two presses at once from two channels make one incident;
2. the incident row (`SELECT ... FOR UPDATE`; `outbox.emit` for an incident takes the same row's
   lock at its first event in the transaction, unless the transaction inserted the incident, and
   moves its event sequence under it at commit);
3. the incident's verification row;
4. unit rows: an order locks its unit after the incident, and automatic dispatch only with
   `SKIP LOCKED` on an available unit (a unit being changed this instant is passed over for the
   next one, never waited for); a unit's own events lock the unit's row the same way;
5. assignment rows (a deadline or a decline reads the order unlocked to learn its incident, locks
   the incident, then the order), terminal rows (in id order within a batch) and deadline rows
   (claimed with SKIP LOCKED).

Known exception, left as it is: a pre-emption locks the unit's current job's incident after the
unit (two pre-emptions crossing the same two incidents could deadlock; PostgreSQL then aborts
one, which the dispatcher retries).

Locks are transaction-scoped: they go with the commit or rollback.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

# Namespaces the advisory keys (ansim.bus.lease lists the session-scoped keys).
_PERSON = "ansim.person:"


def person(session: Session, key: str) -> None:
    """Serialises this person's SOS presses until the transaction ends (PostgreSQL only)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    session.execute(
        sa.text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
        {"key": _PERSON + key},
    )
