"""Commands of the 112 app beyond the SOS: registration, the person's profile, live fixes."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from ansim.domain.errors import Conflict, NotFound
from ansim.domain.fixes import LocationFix
from ansim.domain.people import Guardian
from ansim.notify.templates import check_language
from ansim.services import app_accounts, incidents, people
from ansim.services.app_accounts import CodeCheck
from ansim.services.platform import Platform, transaction
from ansim.store.tables import guardians as guardians_table


@dataclass(frozen=True)
class GuardianEntry:
    name: str
    phone: str  # E.164
    relation: str
    language: str | None = None


def do_request_code(
    platform: Platform, *, phone_number: str, client_id: str, session: Session | None = None
) -> str:
    """Queues a 6-digit code by SMS to the number; returns the challenge id (rate-limited)."""
    with transaction(platform, session) as tx:
        return app_accounts.request_code(
            tx, phone_number=phone_number, client_id=client_id, at=platform.now()
        )


def do_check_code(
    platform: Platform,
    *,
    challenge_id: str,
    phone_number: str,
    code: str,
    session: Session | None = None,
) -> CodeCheck:
    """Checks a code; the attempt counts (commits) even when the answer is no."""
    with transaction(platform, session) as tx:
        return app_accounts.check_code(
            tx, challenge_id=challenge_id, phone_number=phone_number, code=code, at=platform.now()
        )


def do_register_install(
    platform: Platform,
    *,
    phone_number: str,
    name: str | None,
    birth_year: int | None,
    pin: str,
    duress_pin: str,
    session: Session | None = None,
) -> tuple[str, str]:
    """After a verified code: the person and a new install credential (subscriber id, credential)."""
    with transaction(platform, session) as tx:
        return app_accounts.register_install(
            tx,
            phone_number=phone_number,
            name=name,
            birth_year=birth_year,
            pin=pin,
            duress_pin=duress_pin,
            at=platform.now(),
        )


def do_update_profile(
    platform: Platform,
    *,
    subscriber_id: str,
    name: str,
    birth_year: int,
    notes: str,
    guardians: Sequence[GuardianEntry],
    session: Session | None = None,
) -> None:
    """Replaces the person's details and guardians (in call order)."""
    with transaction(platform, session) as tx:
        person = people.get_subscriber(tx, subscriber_id=subscriber_id)
        person.name, person.birth_year, person.notes = name, birth_year, notes
        # A guardian kept without a language named keeps the one chosen before.
        chosen = {g.phone: g.language for g in people.guardians_of(tx, subscriber_id=person.id)}
        tx.execute(guardians_table.delete().where(guardians_table.c.subscriber_id == person.id))
        for order, guardian in enumerate(guardians, start=1):
            language = guardian.language or chosen.get(guardian.phone, "")
            tx.add(
                Guardian(
                    id=str(uuid.uuid4()),
                    subscriber_id=person.id,
                    name=guardian.name,
                    phone=guardian.phone,
                    relation=guardian.relation,
                    call_order=order,
                    language=check_language(language) if language else "",
                )
            )


def do_add_person_fixes(
    platform: Platform,
    *,
    incident_id: str,
    subscriber_id: str,
    fixes: Sequence[LocationFix],
    session: Session | None = None,
) -> int:
    """Stores a batch of the person's live fixes for their open incident: one estimate update."""
    with transaction(platform, session) as tx:
        incident = incidents.get(tx, incident_id=incident_id, for_update=True)
        if incident.subscriber_id != subscriber_id:
            raise NotFound(f"no incident {incident_id}")
        if not incident.is_active:
            raise Conflict("the incident is closed; fixes are no longer taken")
        incidents.add_fixes(tx, incident=incident, fixes=list(fixes), received_at=platform.now())
        return len(fixes)
