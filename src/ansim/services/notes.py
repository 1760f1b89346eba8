"""Dispatcher notes to the units on an incident ("the caller's brother is on the way, blue jacket").

A note is a timeline entry with its event (`incident.note_added`, to the board and to the crews
ordered to the incident) and an audit entry, written together.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from ansim.domain.errors import Conflict, InvalidInput
from ansim.domain.incidents import IncidentEvent
from ansim.security import audit
from ansim.services import incidents
from ansim.services.audit_trail import audited, name_of
from ansim.services.platform import Platform
from ansim.store import outbox

NOTE_KIND = "note_added"
MAX_NOTE = 500


def do_add_dispatcher_note(
    platform: Platform,
    *,
    incident_id: str,
    text: str,
    actor: str | audit.Actor,
    session: Session | None = None,
) -> IncidentEvent:
    """Adds a note for the units on an open incident; returns its timeline entry."""
    words = text.strip()
    if not words or len(words) > MAX_NOTE:
        raise InvalidInput(f"a note has 1 to {MAX_NOTE} characters")
    with audited(
        platform,
        actor=actor,
        action="incident.note",
        incident_id=incident_id,
        detail={"text": words},
        session=session,
    ) as own:
        incident = incidents.get(own, incident_id=incident_id)
        if not incident.is_active:
            raise Conflict(f"incident is {incident.status}; notes go to open incidents only")
        who = name_of(actor)
        entry = IncidentEvent(incident.id, NOTE_KIND, platform.now(), who, {"text": words})
        outbox.record(
            own,
            entry,
            "incident.note_added",
            {"incident_id": incident.id, "text": words, "author": who, "at": entry.at},
        )
        own.flush()  # the entry's id, for the answer
        return entry
