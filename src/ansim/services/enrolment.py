"""Enrolling people the way a school or parent signs a pupil up: guardians, numbers, consent, audit."""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ansim.domain.errors import Conflict, InvalidInput
from ansim.domain.incidents import Channel
from ansim.domain.people import Guardian, Subscriber
from ansim.intake.numbers import normalize_number
from ansim.notify.templates import check_language
from ansim.services import people
from ansim.store.tables import channel_bindings, enrolment_audit, subscribers

MAX_IMPORT_ROWS = 5000
CSV_COLUMNS = (
    "name",
    "birth_year",
    "school",
    "guardian_name",
    "guardian_phone",
    "guardian_relation",
    "one_touch_number",
    "consent_date",
)
# Optional columns: a list without them still imports (the language then follows the number).
CSV_OPTIONAL_COLUMNS = ("guardian_language",)
EDITABLE = ("name", "birth_year", "school", "notes", "photo_url")


@dataclass(frozen=True)
class GuardianDraft:
    name: str
    phone: str
    relation: str
    email: str = ""
    # "ko" or "en"; empty: as the phone number suggests (Korean for Korean numbers).
    language: str = ""


@dataclass(frozen=True)
class PersonDraft:
    name: str
    birth_year: int
    consent_at: datetime
    school: str = ""
    notes: str = ""
    guardians: tuple[GuardianDraft, ...] = ()
    one_touch_numbers: tuple[str, ...] = field(default_factory=tuple)


def enrol_person(session: Session, *, draft: PersonDraft, actor: str, at: datetime) -> Subscriber:
    """Enrols a person with guardians and one-touch numbers; consent is required and recorded."""
    if draft.consent_at.tzinfo is None or draft.consent_at > at:
        raise InvalidInput("consent date must be given, with a zone, and not in the future")
    if not draft.name.strip():
        raise InvalidInput("name must not be empty")
    if not 1900 <= draft.birth_year <= at.year:
        raise InvalidInput(f"birth year {draft.birth_year} is not plausible")
    person = Subscriber(
        id=str(uuid.uuid4()),
        name=draft.name.strip(),
        birth_year=draft.birth_year,
        created_at=at,
        school=draft.school.strip(),
        notes=draft.notes,
        consent_at=draft.consent_at,
    )
    session.add(person)
    session.flush()
    for order, guardian in enumerate(draft.guardians, start=1):
        session.add(
            Guardian(
                id=str(uuid.uuid4()),
                subscriber_id=person.id,
                name=guardian.name.strip(),
                phone=normalize_number(guardian.phone),
                relation=guardian.relation.strip(),
                email=guardian.email,
                call_order=order,
                language=check_language(guardian.language) if guardian.language else "",
            )
        )
    numbers = [normalize_number(number) for number in draft.one_touch_numbers]
    for number in numbers:
        if people.binding(session, channel=Channel.ONE_TOUCH, address=number) is not None:
            raise Conflict(f"number {number} already belongs to an enrolled person")
        people.bind(
            session, subscriber_id=person.id, channel=Channel.ONE_TOUCH, address=number, at=at
        )
    audit(
        session,
        subscriber_id=person.id,
        actor=actor,
        at=at,
        action="enrolled",
        changes={
            "name": person.name,
            "school": person.school,
            "consent_at": draft.consent_at.isoformat(),
            "guardians": len(draft.guardians),
            "one_touch_numbers": numbers,
        },
    )
    session.flush()
    return person


def update_person(
    session: Session, *, subscriber_id: str, changes: dict[str, Any], actor: str, at: datetime
) -> Subscriber:
    """Edits the person's details; every change is audited with its old and new value."""
    person = people.get_subscriber(session, subscriber_id=subscriber_id)
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise InvalidInput(f"these fields cannot be edited here: {', '.join(sorted(unknown))}")
    diff = {}
    for name, value in changes.items():
        if getattr(person, name) != value:
            diff[name] = {"from": getattr(person, name), "to": value}
            setattr(person, name, value)
    if diff:
        audit(session, subscriber_id=person.id, actor=actor, at=at, action="edited", changes=diff)
    return person


def import_csv(session: Session, *, text: str, actor: str, at: datetime) -> list[str]:
    """Enrols every row of a school's list, all or nothing; an error names its row."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = set(CSV_COLUMNS) - set(reader.fieldnames or ())
    if missing:
        raise InvalidInput(f"CSV lacks columns: {', '.join(sorted(missing))}")
    enrolled: list[str] = []
    for line, row in enumerate(reader, start=2):
        if len(enrolled) >= MAX_IMPORT_ROWS:
            raise InvalidInput(f"at most {MAX_IMPORT_ROWS} rows per import")
        try:
            draft = PersonDraft(
                name=row["name"] or "",
                birth_year=int(row["birth_year"] or "0"),
                school=row["school"] or "",
                consent_at=datetime.combine(
                    date.fromisoformat(row["consent_date"] or ""), time(), UTC
                ),
                guardians=(
                    (
                        GuardianDraft(
                            row["guardian_name"],
                            row["guardian_phone"],
                            row["guardian_relation"],
                            language=(row.get("guardian_language") or "").strip(),
                        ),
                    )
                    if row["guardian_name"]
                    else ()
                ),
                one_touch_numbers=(row["one_touch_number"],) if row["one_touch_number"] else (),
            )
            enrolled.append(enrol_person(session, draft=draft, actor=actor, at=at).id)
        except (ValueError, InvalidInput, Conflict) as err:
            raise InvalidInput(f"CSV row {line}: {err}") from None
    return enrolled


def audit(
    session: Session,
    *,
    subscriber_id: str,
    actor: str,
    at: datetime,
    action: str,
    changes: dict[str, Any],
) -> None:
    session.execute(
        enrolment_audit.insert().values(
            subscriber_id=subscriber_id, actor=actor, at=at, action=action, changes=changes
        )
    )


def audit_of(session: Session, *, subscriber_id: str) -> list[dict[str, Any]]:
    rows = session.execute(
        sa.select(enrolment_audit)
        .where(enrolment_audit.c.subscriber_id == subscriber_id)
        .order_by(enrolment_audit.c.id)
    ).mappings()
    return [dict(row) for row in rows]


def list_people(
    session: Session, *, school: str | None = None, limit: int = 500
) -> list[Subscriber]:
    query = sa.select(Subscriber).order_by(subscribers.c.name).limit(limit)
    if school:
        query = query.where(subscribers.c.school == school)
    return list(session.execute(query).scalars())


def one_touch_numbers(session: Session, *, subscriber_id: str) -> list[str]:
    rows = session.execute(
        sa.select(channel_bindings.c.address).where(
            channel_bindings.c.subscriber_id == subscriber_id,
            channel_bindings.c.channel == Channel.ONE_TOUCH.value,
        )
    ).scalars()
    return sorted(rows)
