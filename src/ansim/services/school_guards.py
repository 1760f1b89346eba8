"""School guards (배움터지킴이): enrolment by administrators, and who is on duty now."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ansim.domain.errors import InvalidInput, NotFound
from ansim.domain.school_guards import SchoolGuard, check_weekdays, parse_hhmm
from ansim.intake.numbers import normalize_optional
from ansim.notify.templates import check_language
from ansim.store.tables import school_guards

_EDITABLE = {
    "school",
    "name",
    "phone",
    "duty_start",
    "duty_end",
    "weekdays",
    "email",
    "language",
    "active",
}


def create(session: Session, **fields: Any) -> SchoolGuard:
    """Enrols a school guard with phone and duty hours."""
    guard = SchoolGuard(id=str(uuid.uuid4()), **_checked(fields))
    session.add(guard)
    session.flush()
    return guard


def get(session: Session, *, guard_id: str) -> SchoolGuard:
    guard = session.get(SchoolGuard, guard_id)
    if guard is None:
        raise NotFound(f"no school guard {guard_id}")
    return guard


def update(session: Session, *, guard_id: str, changes: dict[str, Any]) -> SchoolGuard:
    guard = get(session, guard_id=guard_id)
    unknown = set(changes) - _EDITABLE
    if unknown:
        raise InvalidInput(f"cannot change {', '.join(sorted(unknown))}")
    merged = {name: getattr(guard, name) for name in _EDITABLE} | changes
    for name, value in _checked(merged).items():
        setattr(guard, name, value)
    session.flush()
    return guard


def delete(session: Session, *, guard_id: str) -> None:
    session.delete(get(session, guard_id=guard_id))
    session.flush()


def list_all(session: Session, *, school: str | None = None) -> list[SchoolGuard]:
    query = sa.select(SchoolGuard).order_by(school_guards.c.school, school_guards.c.name)
    if school is not None:
        query = query.where(school_guards.c.school == school)
    return list(session.execute(query).scalars())


def on_duty(session: Session, *, school: str, at: datetime) -> list[SchoolGuard]:
    """The guards of `school` on duty at `at`."""
    if not school:
        return []
    return [guard for guard in list_all(session, school=school) if guard.on_duty(at)]


def _checked(fields: dict[str, Any]) -> dict[str, Any]:
    parse_hhmm(fields["duty_start"])
    parse_hhmm(fields["duty_end"])
    check_language(fields.get("language", "ko"))
    if not str(fields.get("phone", "")).strip() and not str(fields.get("email", "")).strip():
        raise InvalidInput("a school guard needs a phone number or an e-mail address")
    # A domestic 010-… number kept as typed was dead-lettered by the SMS gateway: E.164 on the way in.
    fields = fields | {"phone": normalize_optional(fields.get("phone"))}
    if "weekdays" in fields:
        fields = fields | {"weekdays": check_weekdays(fields["weekdays"])}
    return fields
