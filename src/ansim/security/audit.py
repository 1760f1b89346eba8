"""The audit trail: who did or saw what, when, from where and why, in a hash-chained append-only log.

Each entry's hash is SHA-256 over the previous entry's hash and the entry's canonical JSON (its id
included), so altering an entry breaks its own hash and deleting one breaks the next entry's link.
`verify` walks the chain; `ansim audit verify` runs it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ansim.store.tables import audit_log, audit_pending
from ansim.store.uow import UnitOfWork, after_commit

GENESIS = "0" * 64


@dataclass(frozen=True)
class Actor:
    """Who acts and from where: a staff user name and role, a device, a carrier, the system."""

    name: str
    role: str
    ip: str = ""


SYSTEM = Actor(name="system", role="system")


@dataclass(frozen=True)
class Entry:
    id: int
    at: datetime
    actor: str
    role: str
    action: str
    ip: str
    incident_id: str | None
    subject: str
    detail: dict[str, Any]
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class Break:
    """Where the chain stops holding, and why."""

    entry_id: int
    reason: str


def record(
    session: Session,
    *,
    actor: Actor,
    action: str,
    at: datetime,
    incident_id: str | None = None,
    subject: str = "",
    detail: dict[str, Any] | None = None,
) -> int:
    """Appends an entry in the caller's transaction (so it exists only if the action commits).

    SQLite (one writer at a time) chains it at once. PostgreSQL writers commit concurrently, so a
    writer appends to `audit_pending` without any lock and the entry takes its place in the chain
    right after the commit (`seal`), outside the writer's transaction: no audited command waits
    for another. Returns the chained entry's id on SQLite, 0 on PostgreSQL (not chained yet).
    """
    values: dict[str, Any] = {
        "at": at,
        "actor": actor.name[:100],
        "role": actor.role[:30],
        "action": action,
        "ip": actor.ip[:64],
        "incident_id": incident_id,
        "subject": subject[:200],
        "detail": detail or {},
    }
    if session.get_bind().dialect.name == "postgresql":
        session.execute(audit_pending.insert().values(**values, xid=_CURRENT_XID))
        after_commit(session, "audit.seal", _seal_after_commit)
        return 0
    return _append(session, [values])[-1]


# xid8 has no cast to bigint; through text it is exact.
_CURRENT_XID = sa.text("pg_current_xact_id()::text::bigint")
_SNAPSHOT_XMIN = sa.text("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
# Only sealers take this lock (a transaction-scoped advisory lock): writers never wait for it.
_SEAL_LOCK = 7718800


def seal(session: Session, *, batch: int = 1000, wait: bool = True) -> int:
    """Chains the pending entries of ended transactions; returns how many (PostgreSQL only).

    Only entries below the visibility horizon are taken: every transaction below it has ended, so
    no entry can later appear before the ones chained now. Order: by writer xid, then id.
    """
    if session.get_bind().dialect.name != "postgresql":
        return 0
    if wait:
        session.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SEAL_LOCK})
    elif not session.execute(
        sa.text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": _SEAL_LOCK}
    ).scalar_one():
        return 0  # another sealer is at work; it, the next one or the relay's backstop takes ours
    horizon = int(session.execute(_SNAPSHOT_XMIN).scalar_one())
    rows = (
        session.execute(
            sa.select(audit_pending)
            .where(audit_pending.c.xid < horizon)
            .order_by(audit_pending.c.xid, audit_pending.c.id)
            .limit(batch)
        )
        .mappings()
        .all()
    )
    if not rows:
        return 0
    pending_ids = [row["id"] for row in rows]
    _append(
        session,
        [{k: v for k, v in row.items() if k not in ("id", "xid")} for row in rows],
    )
    session.execute(audit_pending.delete().where(audit_pending.c.id.in_(pending_ids)))
    return len(rows)


def seal_all(uow: UnitOfWork, *, wait: bool = True) -> int:
    """Seals until nothing below the horizon is pending (the relay's loop calls it as a backstop)."""
    total = 0
    while True:
        with uow.begin() as session:
            sealed = seal(session, wait=wait)
        total += sealed
        if sealed == 0:
            return total


def _seal_after_commit(uow: UnitOfWork) -> None:
    # A request must not queue behind another's sealing: skip when a sealer is already at work.
    seal_all(uow, wait=False)


def _append(session: Session, entries_values: list[dict[str, Any]]) -> list[int]:
    """Chains entries after the head (the caller holds the chain: SQLite's writer or the seal lock)."""
    last = session.execute(
        sa.select(audit_log.c.id, audit_log.c.hash).order_by(audit_log.c.id.desc()).limit(1)
    ).first()
    entry_id, prev = (last[0], last[1]) if last else (0, GENESIS)
    chained: list[dict[str, Any]] = []
    for entry_values in entries_values:
        entry_id += 1
        values = {"id": entry_id, **entry_values}
        digest = entry_hash(prev, values)
        chained.append({**values, "prev_hash": prev, "hash": digest})
        prev = digest
    session.execute(audit_log.insert(), chained)
    return [values["id"] for values in chained]


def entry_hash(prev_hash: str, values: dict[str, Any]) -> str:
    return hashlib.sha256((prev_hash + canonical(values)).encode()).hexdigest()


def canonical(values: dict[str, Any]) -> str:
    """The entry's content as stable JSON: sorted keys, UTC ISO times to the microsecond."""
    content = {
        key: values[key]
        for key in ("id", "at", "actor", "role", "action", "ip", "incident_id", "subject", "detail")
    }
    content["at"] = content["at"].isoformat(timespec="microseconds")
    return json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def entries(session: Session, *, after_id: int = 0, batch: int = 1000) -> Iterator[Entry]:
    """Every entry in id order, read in batches."""
    while True:
        rows = session.execute(
            sa.select(audit_log)
            .where(audit_log.c.id > after_id)
            .order_by(audit_log.c.id)
            .limit(batch)
        ).mappings()
        found = [Entry(**row) for row in rows]
        if not found:
            return
        yield from found
        after_id = found[-1].id


def verify(session: Session) -> tuple[int, list[Break]]:
    """Walks the chain; returns how many entries it checked and every break found."""
    breaks: list[Break] = []
    prev, expected_id, count = GENESIS, 1, 0
    for entry in entries(session):
        count += 1
        if entry.id != expected_id:
            breaks.append(Break(entry.id, f"entries {expected_id}..{entry.id - 1} are missing"))
        if entry.prev_hash != prev:
            breaks.append(Break(entry.id, "link to the previous entry is broken"))
        values = {
            "id": entry.id,
            "at": entry.at,
            "actor": entry.actor,
            "role": entry.role,
            "action": entry.action,
            "ip": entry.ip,
            "incident_id": entry.incident_id,
            "subject": entry.subject,
            "detail": entry.detail,
        }
        if entry_hash(entry.prev_hash, values) != entry.hash:
            breaks.append(Break(entry.id, "content does not match its hash (altered)"))
        prev, expected_id = entry.hash, entry.id + 1
    return count, breaks


def head(session: Session) -> tuple[int, str]:
    """The last entry's id and hash: write it down elsewhere to detect a truncated tail later."""
    last = session.execute(
        sa.select(audit_log.c.id, audit_log.c.hash).order_by(audit_log.c.id.desc()).limit(1)
    ).first()
    return (last[0], last[1]) if last else (0, GENESIS)


def search(
    session: Session,
    *,
    actor: str | None = None,
    action: str | None = None,
    incident_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 200,
) -> list[Entry]:
    """Entries matching every given filter, newest first.

    Entries of committed transactions not chained yet (PostgreSQL, usually for milliseconds) come
    first, with id 0 and an empty hash: a search never misses an action that has happened.
    """
    found: list[Entry] = []
    for table in (audit_pending, audit_log):
        query = sa.select(table).order_by(table.c.id.desc()).limit(limit)
        if actor is not None:
            query = query.where(table.c.actor == actor)
        if action is not None:
            query = query.where(table.c.action == action)
        if incident_id is not None:
            query = query.where(table.c.incident_id == incident_id)
        if since is not None:
            query = query.where(table.c.at >= since)
        if until is not None:
            query = query.where(table.c.at < until)
        for row in session.execute(query).mappings():
            if table is audit_pending:
                values = {k: v for k, v in row.items() if k not in ("id", "xid")}
                found.append(Entry(id=0, **values, prev_hash="", hash=""))
            else:
                found.append(Entry(**row))
    return found[:limit]
