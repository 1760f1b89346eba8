"""Incident commands: receive an SOS (dedupe, merge), change status and priority, record fixes."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ansim.domain.errors import InvalidInput, NotFound
from ansim.domain.fixes import FixMethod, LocationFix
from ansim.domain.fusion import FixVerdict
from ansim.domain.incidents import (
    CALLED_OFF_STATUSES,
    FINISHED_STATUSES,
    OPEN_STATUSES,
    Channel,
    Incident,
    IncidentEvent,
    IncidentStatus,
    PriorityCode,
)
from ansim.services import location, terminal_notices
from ansim.services.location import location_of as location_of
from ansim.store import locks, outbox
from ansim.store.tables import idempotency_keys, incident_events, incidents, location_fixes
from ansim.store.types import UTCDateTime

_ENDED_STATUSES = CALLED_OFF_STATUSES | FINISHED_STATUSES
# A silent SOS is presumed a danger to life until verification says otherwise.
SOS_PRIORITY = PriorityCode.CODE_1


@dataclass(frozen=True)
class SosReport:
    """One SOS as an intake adapter understood it."""

    channel: Channel
    received_at: datetime
    source: str
    subscriber_id: str | None = None
    caller_number: str | None = None
    fix: LocationFix | None = None
    idempotency_scope: str = ""
    idempotency_key: str | None = None
    # A second identity of the same message (an app SOS's signature), checked and kept like the key.
    signature_key: str | None = None
    drill: bool = False


@dataclass(frozen=True)
class SosOutcome:
    incident: Incident
    created: bool
    # True when this exact message was seen before (a client retry).
    replayed: bool


def receive_sos(session: Session, *, report: SosReport, merge_window: timedelta) -> SosOutcome:
    """Opens an incident for `report`, or joins it to the person's open incident; flushes, never commits."""
    # Two presses for one person at once (two channels, or a retry racing its original) must meet:
    # the second waits here until the first commits, then finds its incident or its key.
    who = report.subscriber_id or report.caller_number or report.idempotency_key
    if who is not None:
        locks.person(session, who)
    keys = sorted({k for k in (report.idempotency_key, report.signature_key) if k})
    if keys:
        seen = dict(
            session.execute(
                sa.select(idempotency_keys.c.key, idempotency_keys.c.incident_id).where(
                    idempotency_keys.c.scope == report.idempotency_scope,
                    idempotency_keys.c.key.in_(keys),
                )
            ).all()
        )
        if seen:
            # The same press (by its key, or by its signed bytes under a new key): the new name
            # is kept too, so a retry under it finds this incident as well.
            incident_id = next(iter(seen.values()))
            _remember_keys(session, report, [k for k in keys if k not in seen], incident_id)
            return SosOutcome(get(session, incident_id=incident_id), created=False, replayed=True)

    # An incident the person cancelled with a PIN is over for them, even when the duress PIN keeps
    # it open for the police: a press after either PIN opens a new incident, so the device meets
    # the same answer (201, a new id) and cannot tell the two PINs apart.
    recent = _recent_incidents_of(session, report, merge_window)
    incident = _first(recent, OPEN_STATUSES, not_person_cancelled=True)
    created = incident is None
    if incident is None:
        # After a cancel, false alarm or close a press is a new call for help, linked to the last.
        earlier = _first(recent, _ENDED_STATUSES) or _first(recent, OPEN_STATUSES)
        incident = _open(session, report, previous_incident_id=earlier.id if earlier else None)
    else:
        incident.sos_count += 1
        incident.updated_at = report.received_at
        outbox.record(
            session,
            IncidentEvent(
                incident.id,
                "sos_repeated",
                report.received_at,
                report.source,
                {"channel": report.channel.value, "sos_count": incident.sos_count},
            ),
            "incident.sos_repeated",
            {
                "incident_id": incident.id,
                "channel": report.channel.value,
                "sos_count": incident.sos_count,
            },
        )
    _remember_keys(session, report, keys, incident.id)
    if report.fix is not None:
        # A fix that jumps impossibly is kept as refused; the SOS itself still stands.
        add_fix(
            session,
            incident=incident,
            fix=report.fix,
            received_at=report.received_at,
            keep_refused=True,
        )
    session.flush()
    return SosOutcome(incident, created=created, replayed=False)


def _remember_keys(session: Session, report: SosReport, keys: list[str], incident_id: str) -> None:
    if keys:
        session.execute(
            idempotency_keys.insert(),
            [
                {
                    "scope": report.idempotency_scope,
                    "key": key,
                    "incident_id": incident_id,
                    "created_at": report.received_at,
                }
                for key in keys
            ],
        )


def open_linked(session: Session, *, earlier: Incident, source: str, at: datetime) -> Incident:
    """A new incident for the person of `earlier`, linked to it, located where it last was."""
    last_fix = None
    if earlier.lat is not None and earlier.lon is not None and earlier.radius_m is not None:
        methods = {m.value for m in FixMethod}
        method = earlier.location_method if earlier.location_method in methods else "unknown"
        last_fix = LocationFix(
            lat=earlier.lat,
            lon=earlier.lon,
            radius_m=earlier.radius_m,
            method=FixMethod(method),
            observed_at=earlier.located_at or earlier.updated_at,
            source=f"incident {earlier.id}",
        )
    report = SosReport(
        channel=earlier.channel,
        received_at=at,
        source=source,
        subscriber_id=earlier.subscriber_id,
        caller_number=earlier.caller_number,
        fix=last_fix,
        drill=earlier.drill,
    )
    incident = _open(session, report, previous_incident_id=earlier.id)
    if last_fix is not None:
        add_fix(session, incident=incident, fix=last_fix, received_at=at, keep_refused=True)
    session.flush()
    return incident


def _recent_incidents_of(
    session: Session, report: SosReport, merge_window: timedelta
) -> list[Incident]:
    """The person's incidents received within the merge window, latest first, in any status.

    One read where three were (open and not cancelled by the person; else ended; else open).
    """
    if report.subscriber_id is None and report.caller_number is None:
        return []
    query = sa.select(Incident).where(
        incidents.c.received_at >= report.received_at - merge_window,
        incidents.c.drill == report.drill,
    )
    if report.subscriber_id is not None:
        query = query.where(incidents.c.subscriber_id == report.subscriber_id)
    else:
        query = query.where(incidents.c.caller_number == report.caller_number)
    return list(session.execute(query.order_by(incidents.c.received_at.desc())).scalars())


def _first(
    recent: list[Incident],
    statuses: frozenset[IncidentStatus],
    *,
    not_person_cancelled: bool = False,
) -> Incident | None:
    """The latest of `recent` in `statuses` (and, if asked, not cancelled by the person)."""
    return next(
        (
            incident
            for incident in recent
            if incident.status in statuses
            and not (not_person_cancelled and incident.person_cancelled)
        ),
        None,
    )


def _open(session: Session, report: SosReport, *, previous_incident_id: str | None) -> Incident:
    incident = Incident(
        id=str(uuid.uuid4()),
        channel=report.channel,
        status=IncidentStatus.RECEIVED,
        priority=SOS_PRIORITY,
        received_at=report.received_at,
        updated_at=report.received_at,
        subscriber_id=report.subscriber_id,
        caller_number=report.caller_number,
        drill=report.drill,
        previous_incident_id=previous_incident_id,
    )
    if report.fix is not None:
        # The first fix alone is the first estimate; add_fix then stores and fuses it.
        incident.locate(report.fix, at=report.received_at)
    session.add(incident)
    _note_created(session, incident.id)
    session.flush()
    outbox.record(
        session,
        IncidentEvent(
            incident.id,
            "received",
            report.received_at,
            report.source,
            {
                "channel": report.channel.value,
                "unknown_caller": incident.unknown_caller,
                "previous_incident_id": previous_incident_id,
            },
        ),
        "incident.received",
        {
            "incident_id": incident.id,
            "channel": incident.channel.value,
            "status": incident.status.value,
            "priority": int(incident.priority),
            "received_at": incident.received_at,
            "subscriber_id": incident.subscriber_id,
            "unknown_caller": incident.unknown_caller,
            "drill": incident.drill,
            "location": location_of(incident),
            "previous_incident_id": previous_incident_id,
        },
    )
    return incident


def add_fix(
    session: Session,
    *,
    incident: Incident,
    fix: LocationFix,
    received_at: datetime,
    keep_refused: bool = False,
) -> FixVerdict:
    """Stores a fix with its verdict and moves the incident's fused estimate (see services.location)."""
    return location.add_fix(
        session, incident=incident, fix=fix, received_at=received_at, keep_refused=keep_refused
    )


def add_fixes(
    session: Session,
    *,
    incident: Incident,
    fixes: Sequence[LocationFix],
    received_at: datetime,
    keep_refused: bool = False,
) -> list[FixVerdict]:
    """Stores a batch of fixes and moves the estimate once, one `incident.located` (services.location)."""
    return location.add_fixes(
        session, incident=incident, fixes=fixes, received_at=received_at, keep_refused=keep_refused
    )


def get(session: Session, *, incident_id: str, for_update: bool = False) -> Incident:
    """Gets an incident by id or raises NotFound."""
    # Locking re-reads the row: a copy loaded before the lock may predate a concurrent commit.
    # Not a row this transaction inserted: nobody else sees it before commit (an SOS locked its
    # new incident four times, a SELECT each, issue 15).
    if for_update and _created_here(session, incident_id):
        for_update = False
    incident = session.get(
        Incident, incident_id, with_for_update=for_update, populate_existing=for_update
    )
    if incident is None:
        raise NotFound(f"no incident {incident_id}")
    return incident


_CREATED = "ansim.incidents_created"


def _note_created(session: Session, incident_id: str) -> None:
    """Remembers that this transaction inserted `incident_id` (until the transaction ends)."""
    transaction = session.get_transaction()
    noted: tuple[object, set[str]] | None = session.info.get(_CREATED)
    if noted is None or noted[0] is not transaction:
        noted = session.info[_CREATED] = (transaction, set())
    noted[1].add(incident_id)


def _created_here(session: Session, incident_id: str) -> bool:
    noted = session.info.get(_CREATED)
    return noted is not None and noted[0] is session.get_transaction() and incident_id in noted[1]


def change_status(
    session: Session,
    *,
    incident_id: str,
    status: IncidentStatus,
    actor: str,
    reason: str,
    at: datetime,
) -> Incident:
    incident = get(session, incident_id=incident_id, for_update=True)
    entry = incident.move_to(status, at=at, actor=actor, reason=reason)
    outbox.record(
        session, entry, "incident.status_changed", {"incident_id": incident.id, **entry.data}
    )
    terminal_notices.queue_stood_down(session, incident=incident, at=at)
    if status is IncidentStatus.CONFIRMED:
        # Danger after a cancel: the carrier re-location policy resumes (imported here: a cycle).
        from ansim.services import relocation

        relocation.start_policy(session, incident=incident, at=at)
    return incident


def change_priority(
    session: Session,
    *,
    incident_id: str,
    priority: PriorityCode,
    actor: str,
    reason: str,
    at: datetime,
) -> Incident:
    incident = get(session, incident_id=incident_id, for_update=True)
    entry = incident.set_priority(priority, at=at, actor=actor, reason=reason)
    outbox.record(
        session, entry, "incident.priority_changed", {"incident_id": incident.id, **entry.data}
    )
    return incident


def list_recent(session: Session, *, active_only: bool, limit: int = 200) -> list[Incident]:
    """The newest incidents (open ones only with `active_only`); the board's queue is `list_open`."""
    query = sa.select(Incident).order_by(incidents.c.received_at.desc()).limit(limit)
    if active_only:
        query = query.where(incidents.c.status.in_(sorted(OPEN_STATUSES)))
    return list(session.execute(query).scalars())


@dataclass(frozen=True)
class QueuePosition:
    """Where a page of the open-incident queue ended (keyset paging: stable while SOS arrive)."""

    waiting: int  # 0: waiting for a unit (first), 1: not
    priority: int
    received_at: datetime
    incident_id: str

    @classmethod
    def of(cls, incident: Incident) -> QueuePosition:
        waiting = 0 if incident.waiting_for_units > 0 else 1
        return cls(waiting, int(incident.priority), incident.received_at, incident.id)

    def token(self) -> str:
        raw = json.dumps(
            [self.waiting, self.priority, self.received_at.isoformat(), self.incident_id]
        )
        return base64.urlsafe_b64encode(raw.encode()).decode()

    @classmethod
    def parse(cls, token: str) -> QueuePosition:
        try:
            waiting, priority, received_at, incident_id = json.loads(
                base64.urlsafe_b64decode(token.encode())
            )
            at = datetime.fromisoformat(received_at)
            return cls(int(waiting), int(priority), at, str(incident_id))
        except (ValueError, TypeError, binascii.Error):
            raise InvalidInput("cursor is not one this list gave") from None


_WAITING_FIRST = sa.case((incidents.c.waiting_for_units > 0, 0), else_=1)


def list_open(
    session: Session, *, limit: int | None = None, after: QueuePosition | None = None
) -> list[Incident]:
    """Every open incident, in the dispatcher's order: those waiting for a unit first, then by
    code (0 first), the longest-waiting first within a code. No limit: all of them."""
    query = sa.select(Incident).where(incidents.c.status.in_(sorted(OPEN_STATUSES)))
    if after is not None:
        query = query.where(
            sa.tuple_(_WAITING_FIRST, incidents.c.priority, incidents.c.received_at, incidents.c.id)
            > sa.tuple_(
                sa.literal(after.waiting),
                sa.literal(after.priority),
                sa.literal(after.received_at, UTCDateTime),
                sa.literal(after.incident_id),
            )
        )
    query = query.order_by(
        _WAITING_FIRST, incidents.c.priority, incidents.c.received_at, incidents.c.id
    )
    if limit is not None:
        query = query.limit(limit)
    return list(session.execute(query).scalars())


def count_open(session: Session) -> tuple[int, int]:
    """(open incidents, those of them waiting for a unit)."""
    waiting = sa.func.sum(sa.case((incidents.c.waiting_for_units > 0, 1), else_=0))
    row = session.execute(
        sa.select(sa.func.count(), waiting).where(incidents.c.status.in_(sorted(OPEN_STATUSES)))
    ).one()
    return int(row[0]), int(row[1] or 0)


def timeline(session: Session, *, incident_id: str) -> list[IncidentEvent]:
    query = (
        sa.select(IncidentEvent)
        .where(incident_events.c.incident_id == incident_id)
        .order_by(incident_events.c.id)
    )
    return list(session.execute(query).scalars())


def fixes(session: Session, *, incident_id: str) -> list[dict[str, Any]]:
    rows = session.execute(
        sa.select(location_fixes)
        .where(location_fixes.c.incident_id == incident_id)
        .order_by(location_fixes.c.observed_at)
    ).mappings()
    return [dict(row) for row in rows]
