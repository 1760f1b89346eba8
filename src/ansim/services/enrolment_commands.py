"""Enrolment commands of the administration: people, CSV imports, terminals, carriers, school guards."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from ansim.domain.people import Subscriber
from ansim.domain.school_guards import SchoolGuard
from ansim.domain.terminals import Terminal
from ansim.intake.held import LocationServer
from ansim.security import audit
from ansim.services import carriers, enrolment, relocation, school_guards, terminals
from ansim.services.audit_trail import audited, name_of
from ansim.services.enrolment import PersonDraft
from ansim.services.platform import Platform, transaction


@dataclass(frozen=True)
class EnrolledTerminal:
    terminal: Terminal
    secret: str  # shown once, written to the device


def do_enrol_person(
    platform: Platform,
    *,
    draft: PersonDraft,
    actor: str | audit.Actor,
    session: Session | None = None,
) -> Subscriber:
    """Enrols a person with guardians and one-touch numbers; consent and its date are required."""
    with transaction(platform, session) as own:
        return enrolment.enrol_person(own, draft=draft, actor=name_of(actor), at=platform.now())


def do_update_person(
    platform: Platform,
    *,
    subscriber_id: str,
    changes: dict[str, Any],
    actor: str | audit.Actor,
    session: Session | None = None,
) -> Subscriber:
    """Edits a person's details; the change is in the person's enrolment audit."""
    with transaction(platform, session) as own:
        return enrolment.update_person(
            own,
            subscriber_id=subscriber_id,
            changes=changes,
            actor=name_of(actor),
            at=platform.now(),
        )


def do_import_people(
    platform: Platform, *, text: str, actor: str | audit.Actor, session: Session | None = None
) -> list[str]:
    """Enrols a school's list from CSV text; all rows or none. Returns the new people's ids."""
    with transaction(platform, session) as own:
        return enrolment.import_csv(own, text=text, actor=name_of(actor), at=platform.now())


def do_enrol_terminal(
    platform: Platform,
    *,
    terminal_id: str,
    subscriber_id: str,
    reporting_interval_s: int,
    actor: str | audit.Actor,
    session: Session | None = None,
) -> EnrolledTerminal:
    """Enrols a U-안심 terminal for a person, with its secret (shown only now)."""
    with transaction(platform, session) as own:
        now, who = platform.now(), name_of(actor)
        secret = terminals.enrol(
            own,
            terminal_id=terminal_id,
            subscriber_id=subscriber_id,
            reporting_interval_s=reporting_interval_s,
            actor=who,
            at=now,
        )
        enrolment.audit(
            own,
            subscriber_id=subscriber_id,
            actor=who,
            at=now,
            action="terminal_enrolled",
            changes={"terminal_id": terminal_id, "reporting_interval_s": reporting_interval_s},
        )
        return EnrolledTerminal(terminals.get(own, terminal_id=terminal_id), secret)


def do_update_terminal(
    platform: Platform,
    *,
    terminal_id: str,
    reporting_interval_s: int,
    actor: str | audit.Actor,
    session: Session | None = None,
) -> Terminal:
    """Changes a terminal's reporting interval; the device receives it as `config`."""
    with transaction(platform, session) as own:
        now = platform.now()
        terminal = terminals.set_interval(
            own, terminal_id=terminal_id, reporting_interval_s=reporting_interval_s, at=now
        )
        enrolment.audit(
            own,
            subscriber_id=terminal.subscriber_id,
            actor=name_of(actor),
            at=now,
            action="terminal_edited",
            changes={"terminal_id": terminal_id, "reporting_interval_s": reporting_interval_s},
        )
        return terminal


def do_register_carrier(
    platform: Platform,
    *,
    carrier_id: str,
    name: str,
    actor: str | audit.Actor,
    location_server: LocationServer | None = None,
    session: Session | None = None,
) -> str:
    """Registers a carrier and returns its new shared secret (shown once); with its HELD
    location server when given (the password encrypted at rest)."""
    with audited(
        platform,
        actor=actor,
        action="carrier.register",
        subject=f"carrier:{carrier_id}",
        session=session,
    ) as own:
        secret = carriers.register(own, carrier_id=carrier_id, name=name, at=platform.now())
        if location_server is not None:
            relocation.set_location_server(own, carrier_id=carrier_id, server=location_server)
        return secret


def do_create_school_guard(
    platform: Platform,
    *,
    fields: dict[str, Any],
    actor: str | audit.Actor,
    session: Session | None = None,
) -> SchoolGuard:
    """Enrols a school guard (배움터지킴이)."""
    with audited(
        platform,
        actor=actor,
        action="school_guard.create",
        subject=f"school:{fields.get('school', '')}",
        session=session,
    ) as own:
        return school_guards.create(own, **fields)


def do_update_school_guard(
    platform: Platform,
    *,
    guard_id: str,
    changes: dict[str, Any],
    actor: str | audit.Actor,
    session: Session | None = None,
) -> SchoolGuard:
    """Changes a school guard's details or duty hours."""
    with audited(
        platform,
        actor=actor,
        action="school_guard.update",
        subject=f"school_guard:{guard_id}",
        session=session,
    ) as own:
        return school_guards.update(own, guard_id=guard_id, changes=changes)


def do_delete_school_guard(
    platform: Platform, *, guard_id: str, actor: str | audit.Actor, session: Session | None = None
) -> None:
    """Removes a school guard (links already sent stop working)."""
    with audited(
        platform,
        actor=actor,
        action="school_guard.delete",
        subject=f"school_guard:{guard_id}",
        session=session,
    ) as own:
        school_guards.delete(own, guard_id=guard_id)
