"""Which handler fires each kind of durable deadline; each capability registers its kinds here."""

from __future__ import annotations

from ansim.bus.scheduler import DeadlineHandler
from ansim.services import terminals


def deadline_handlers() -> dict[str, DeadlineHandler]:
    """All deadline kinds the running system knows, by kind name."""
    return {
        terminals.HEARTBEAT_KIND: terminals.on_heartbeat_overdue,
    }
