"""Which handler fires each kind of durable deadline; each capability registers its kinds here."""

from __future__ import annotations

from ansim.bus import probe
from ansim.bus.scheduler import DeadlineHandler


def deadline_handlers() -> dict[str, DeadlineHandler]:
    """All deadline kinds the running system knows, by kind name."""
    return {
        probe.PROBE: probe.fire_probe,
    }
