"""Audit entries of commands and of looks at personal data, in the command's own transaction."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from ansim.security import audit
from ansim.services.platform import Platform, transaction

# A command run by the system or the simulation (not a person at a console) names itself.
SYSTEM_ROLE = "system"


def actor_of(actor: str | audit.Actor) -> audit.Actor:
    """The audit actor: a person's (name, role, address) as given, or a system actor by name."""
    return actor if isinstance(actor, audit.Actor) else audit.Actor(name=actor, role=SYSTEM_ROLE)


def name_of(actor: str | audit.Actor) -> str:
    """The name that signs timeline events (a staff user name, a unit call sign, "scheduler")."""
    return actor.name if isinstance(actor, audit.Actor) else actor


@contextmanager
def audited(
    platform: Platform,
    *,
    actor: str | audit.Actor,
    action: str,
    incident_id: str | None = None,
    subject: str = "",
    detail: dict[str, Any] | None = None,
    session: Session | None = None,
) -> Iterator[Session]:
    """A command's transaction with its audit entry: the change and the entry commit together."""
    with transaction(platform, session) as own:
        yield own
        audit.record(
            own,
            actor=actor_of(actor),
            action=action,
            at=platform.now(),
            incident_id=incident_id,
            subject=subject,
            detail=detail,
        )


def do_record_read(
    platform: Platform,
    *,
    actor: str | audit.Actor,
    action: str,
    incident_id: str | None = None,
    subject: str = "",
    detail: dict[str, Any] | None = None,
) -> None:
    """Records a look at personal data in its own transaction, before the data is shown."""
    with audited(
        platform,
        actor=actor,
        action=action,
        incident_id=incident_id,
        subject=subject,
        detail=detail,
    ):
        pass  # the look itself is what is recorded


def do_search_audit_log(
    platform: Platform,
    *,
    actor: str | audit.Actor,
    who: str | None = None,
    action: str | None = None,
    incident_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 200,
) -> list[audit.Entry]:
    """Audit entries matching every filter, newest first; the search itself is recorded first."""
    filters = {"actor": who, "action": action, "incident_id": incident_id}
    with transaction(platform) as session:
        audit.record(
            session,
            actor=actor_of(actor),
            action="audit.search",
            at=platform.now(),
            detail={k: v for k, v in filters.items() if v is not None},
        )
        return audit.search(
            session,
            actor=who,
            action=action,
            incident_id=incident_id,
            since=since,
            until=until,
            limit=limit,
        )
