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

from ansim.store.tables import audit_log

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
    """Appends an entry in the caller's transaction (so it exists only if the action commits)."""
    _lock_chain(session)
    last = session.execute(
        sa.select(audit_log.c.id, audit_log.c.hash).order_by(audit_log.c.id.desc()).limit(1)
    ).first()
    entry_id, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    values: dict[str, Any] = {
        "id": entry_id,
        "at": at,
        "actor": actor.name[:100],
        "role": actor.role[:30],
        "action": action,
        "ip": actor.ip[:64],
        "incident_id": incident_id,
        "subject": subject[:200],
        "detail": detail or {},
    }
    session.execute(
        audit_log.insert().values(**values, prev_hash=prev, hash=entry_hash(prev, values))
    )
    return entry_id


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


def _lock_chain(session: Session) -> None:
    # Two writers must not both extend the same head: SQLite's BEGIN IMMEDIATE already serialises
    # writers; PostgreSQL takes a transaction-scoped advisory lock.
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text("SELECT pg_advisory_xact_lock(7718800)"))


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
    """Entries matching every given filter, newest first."""
    query = sa.select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
    if actor is not None:
        query = query.where(audit_log.c.actor == actor)
    if action is not None:
        query = query.where(audit_log.c.action == action)
    if incident_id is not None:
        query = query.where(audit_log.c.incident_id == incident_id)
    if since is not None:
        query = query.where(audit_log.c.at >= since)
    if until is not None:
        query = query.where(audit_log.c.at < until)
    return [Entry(**row) for row in session.execute(query).mappings()]
